package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.diffusion.Teachers;
import dev.diffinstruct.trainer.models.BuiltinModels;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The three networks of a run: the frozen teacher (EDM view), the trainable generator and the
 * trainable fake score, with the latent and data shapes. With {@code --classes C} all three are
 * class-conditional: teacher and fake {@code forward(x, sigma, class_labels)}, generator
 * {@code forward(z, class_labels)}, labels one-hot [N, C]. {@link #resolve} builds them from a
 * {@link DistillConfig} and checks them on a tiny dummy batch before any training, so that bad
 * input fails fast with one clear line ({@link InvalidInputException}).
 */
public record Networks(ScriptModule teacher, ScriptModule generator, ScriptModule fake, long[] latentShape, long[] dataShape)
        implements AutoCloseable {

    /** Seeds derived from --seed for each independent random stream. */
    static long seed(long base, int stream) {
        long z = base * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    static final int STREAM_GENERATOR_INIT = 1, STREAM_FAKE_INIT = 2, STREAM_TRAINING = 3;

    /** Builds and checks the networks for {@code cfg}; the teacher file is read through {@code adapter}. */
    public static Networks resolve(DistillConfig cfg, TeacherAdapter adapter) {
        cfg.validate();
        Device device = DeviceOption.parse(cfg.device);
        int classes = cfg.classes;
        List<AutoCloseable> made = new ArrayList<>();
        try {
            // ---- teacher
            long[] dataShape = cfg.dataShape;
            ScriptModule teacher = loadTeacher(cfg, adapter, device);
            made.add(teacher);
            if (DistillConfig.BUILTIN_MIXTURE.equals(cfg.teacher)) dataShape = new long[] {2};
            String teacherName = "teacher " + cfg.teacher;

            // ---- generator file first: it may be what tells the data shape
            ScriptModule userGen = null;
            if (cfg.generator != null && !DistillConfig.BUILTIN_MLP.equals(cfg.generator)) {
                ScriptModule loaded = load(cfg.generator);
                userGen = loaded.trainableCopy();
                loaded.close();
                made.add(userGen);
                userGen.to(device);
            }
            long[] latentShape = cfg.latentShape;
            if (userGen != null && latentShape == null) {
                if (!userGen.hasAttribute("latent_shape"))
                    throw new InvalidInputException("generator " + cfg.generator + " has no latent_shape attribute: give --latent-dim");
                latentShape = userGen.getIntList("latent_shape");
            }
            if (dataShape == null && teacher.hasAttribute("data_shape")) dataShape = teacher.getIntList("data_shape");
            if (userGen != null) checkClassesAttribute(userGen, "generator " + cfg.generator, classes);
            if (dataShape == null && userGen != null) dataShape = tail(checkForward(userGen, "generator " + cfg.generator, device, latentShape, classes));
            if (dataShape == null)
                throw new InvalidInputException("cannot tell the data shape of " + teacherName + ": give --data-shape (e.g. 3,32,32)");
            checkDenoiser(teacher, teacherName, device, dataShape, classes);
            boolean teacherTrainable = teacher.parameterCount() > 0;

            // ---- generator
            ScriptModule generator;
            if (userGen != null) {
                generator = userGen;
            } else if (cfg.generator == null && teacherTrainable) {
                generator = BuiltinModels.denoiserGenerator(teacher, cfg.initSigma, dataShape, classes);
                made.add(generator);
                latentShape = dataShape;
            } else {
                if (latentShape == null) latentShape = dataShape;
                try (Generator init = new Generator(seed(cfg.seed, STREAM_GENERATOR_INIT))) {
                    generator = BuiltinModels.mlpGenerator(latentShape, dataShape, cfg.hidden, cfg.layers, classes, init);
                }
                made.add(generator);
            }
            generator.to(device).requiresGrad(true);
            if (generator.parameterCount() == 0) throw new InvalidInputException("the generator has no trainable parameters");
            long[] out = checkForward(generator, "generator", device, latentShape, classes);
            if (!Arrays.equals(tail(out), dataShape))
                throw new InvalidInputException("the generator's output shape " + Arrays.toString(tail(out))
                        + " differs from the teacher's data shape " + Arrays.toString(dataShape));
            if (!generator.hasAttribute("latent_shape")) generator.setAttribute("latent_shape", latentShape);
            if (classes > 0 && !generator.hasAttribute("num_classes")) generator.setAttribute("num_classes", (long) classes);

            // ---- fake score
            ScriptModule fake;
            if (cfg.fake == null && teacherTrainable) {
                fake = teacher.trainableCopy();
            } else if (cfg.fake == null || DistillConfig.BUILTIN_MLP.equals(cfg.fake)) {
                try (Generator init = new Generator(seed(cfg.seed, STREAM_FAKE_INIT))) {
                    fake = BuiltinModels.edmMlpDenoiser(dataShape, cfg.hidden, cfg.layers, cfg.sigmaData, classes, init);
                }
            } else {
                ScriptModule loaded = load(cfg.fake);
                fake = loaded.trainableCopy();
                loaded.close();
            }
            made.add(fake);
            fake.to(device).requiresGrad(true);
            if (fake.parameterCount() == 0) throw new InvalidInputException("the fake score has no trainable parameters");
            String fakeName = "fake score " + (cfg.fake == null ? "(copy of the teacher)" : cfg.fake);
            checkClassesAttribute(fake, fakeName, classes);
            checkDenoiser(fake, fakeName, device, dataShape, classes);

            return new Networks(teacher, generator, fake, latentShape, dataShape);
        } catch (RuntimeException e) {
            for (AutoCloseable c : made) closeQuietly(c);
            throw e;
        }
    }

    /** The teacher's EDM view, frozen, on {@code device}, checked on a dummy batch of {@code dataShape}. */
    static ScriptModule teacher(DistillConfig cfg, TeacherAdapter adapter, Device device, long[] dataShape) {
        ScriptModule t = loadTeacher(cfg, adapter, device);
        try {
            checkDenoiser(t, "teacher " + cfg.teacher, device, dataShape, cfg.classes);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    private static ScriptModule loadTeacher(DistillConfig cfg, TeacherAdapter adapter, Device device) {
        ScriptModule teacher;
        if (DistillConfig.BUILTIN_MIXTURE.equals(cfg.teacher)) {
            if (cfg.dataShape != null && !Arrays.equals(cfg.dataShape, new long[] {2}))
                throw new InvalidInputException("the built-in mixture teacher has data shape [2], not --data-shape " + Arrays.toString(cfg.dataShape));
            teacher = MixtureTeacher.defaultRing().toModule();
        } else {
            ScriptModule raw = ScriptModule.load(Path.of(cfg.teacher));
            try {
                raw.requiresGrad(false); // frozen: the adapter's view only holds it
                checkClassesAttribute(raw, "teacher " + cfg.teacher, cfg.classes);
                teacher = adapter.toEdm(raw);
            } catch (TorchException e) {
                raw.close();
                throw new InvalidInputException("teacher " + cfg.teacher + " cannot be read as --teacher-kind " + cfg.teacherKind + ": " + e.summary(), e);
            } catch (InvalidInputException e) {
                String hint = e.getMessage().startsWith("teacher " + cfg.teacher) ? "" : classesHint(raw, cfg.classes);
                raw.close();
                throw e.getMessage().startsWith("teacher " + cfg.teacher) ? e
                        : new InvalidInputException("teacher " + cfg.teacher + ": " + e.getMessage() + hint, e);
            }
            if (teacher != raw) raw.close();
        }
        try {
            return teacher.to(device).requiresGrad(false);
        } catch (RuntimeException e) {
            teacher.close();
            throw e;
        }
    }

    /** Loads a TorchScript file; a missing or invalid one is a ModelFileException naming it (CLI exit 2). */
    private static ScriptModule load(String file) {
        return ScriptModule.load(Path.of(file));
    }

    /**
     * Runs forward(x[2, *shape], sigma[2]), or forward(x, sigma, class_labels[2, classes]) when
     * {@code classes > 0}; the output must have x's shape and be finite.
     */
    static void checkDenoiser(ScriptModule m, String name, Device device, long[] dataShape, int classes) {
        try (Scope s = Scope.open()) {
            long[] shape = prepend(2, dataShape);
            Tensor x = Tensor.randn(null, DType.FLOAT32, device, shape).mul(0.5);
            Tensor sigma = Tensor.of(new float[] {0.5f, 2.0f}).to(device);
            String call = classes > 0 ? "forward(x, sigma, class_labels)" : "forward(x, sigma)";
            Tensor y;
            try {
                y = classes > 0 ? m.forward(x, sigma, dummyLabels(classes, device)) : m.forward(x, sigma);
            } catch (TorchException e) {
                throw new InvalidInputException(name + ": " + call + " fails on a dummy batch x" + Arrays.toString(shape)
                        + ", sigma[2]" + (classes > 0 ? ", class_labels[2, " + classes + "]" : "") + signatureHint(m, 2, classes)
                        + ": " + e.summary(), e);
            }
            if (!Arrays.equals(y.shape(), shape))
                throw new InvalidInputException(name + ": " + call + " returns shape " + Arrays.toString(y.shape())
                        + " for x" + Arrays.toString(shape) + " (a denoiser returns x's shape)");
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on a dummy batch x" + Arrays.toString(shape));
        }
    }

    /** Runs forward(z[2, *latent]), or forward(z, class_labels[2, classes]) when {@code classes > 0}, and returns the output's shape. */
    static long[] checkForward(ScriptModule g, String name, Device device, long[] latentShape, int classes) {
        try (Scope s = Scope.open()) {
            long[] shape = prepend(2, latentShape);
            Tensor y;
            try {
                Tensor z = Tensor.randn(null, DType.FLOAT32, device, shape);
                y = classes > 0 ? g.forward(z, dummyLabels(classes, device)) : g.forward(z);
            } catch (TorchException e) {
                throw new InvalidInputException(name + ": " + (classes > 0 ? "forward(z, class_labels)" : "forward(z)") + " fails on a dummy batch z"
                        + Arrays.toString(shape) + (classes > 0 ? ", class_labels[2, " + classes + "]" : "") + signatureHint(g, 1, classes)
                        + ": " + e.summary(), e);
            }
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on a dummy batch z" + Arrays.toString(shape));
            if (y.dim() < 2 || y.size(0) != 2)
                throw new InvalidInputException(name + ": forward(z) returns shape " + Arrays.toString(y.shape()) + " for z" + Arrays.toString(shape));
            return y.shape();
        }
    }

    /** One-hot labels [2, classes] of classes 0 and 1 (or 0 twice), for the dummy forwards. */
    private static Tensor dummyLabels(int classes, Device device) {
        return Teachers.oneHot(new long[] {0, Math.min(1, classes - 1)}, classes, device);
    }

    /** Number of arguments of the module's forward (without self), or -1 if unknown. */
    private static int forwardArgs(ScriptModule m) {
        try {
            for (String sig : m.methods())
                if (sig.startsWith("forward(")) return sig.substring(0, sig.indexOf(')') + 1).split(",").length - 1; // minus self
        } catch (TorchException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Why a forward call may have failed: its argument count against the {@code inputs} data
     * arguments (z; or x, sigma) plus class_labels when {@code classes > 0}, with a hint about --classes.
     */
    private static String signatureHint(ScriptModule m, int inputs, int classes) {
        int args = forwardArgs(m);
        int expected = inputs + (classes > 0 ? 1 : 0);
        if (args < 0 || args == expected) return "";
        String want = inputs == 1 ? (classes > 0 ? "(z, class_labels)" : "(z)") : (classes > 0 ? "(x, sigma, class_labels)" : "(x, sigma)");
        String hint = "";
        if (classes == 0 && args == inputs + 1) hint = "; it looks class-conditional: give --classes C";
        if (classes > 0 && args == inputs) hint = "; it looks unconditional: drop --classes";
        return " (its forward takes " + args + " argument" + (args == 1 ? "" : "s") + ", "
                + (inputs == 1 ? "a generator" : "a teacher") + " here takes " + want + hint + ")";
    }

    /** The --classes hint for a teacher the adapter refused (raw: the file's network). */
    private static String classesHint(ScriptModule raw, int classes) {
        int args = forwardArgs(raw);
        if (classes > 0 && args == 2) return " (it looks unconditional: drop --classes)";
        if (classes == 0 && args == 3) return " (it looks class-conditional: give --classes C)";
        return "";
    }

    /** A network's num_classes attribute, when it has one, must agree with --classes. */
    private static void checkClassesAttribute(ScriptModule m, String name, int classes) {
        if (!m.hasAttribute("num_classes")) return;
        double n;
        try {
            n = m.getDouble("num_classes");
        } catch (TorchException e) {
            return; // not a number: not ours to judge
        }
        if (n == classes) return;
        if (classes == 0) throw new InvalidInputException(name + " is class-conditional (num_classes " + (long) n + "): give --classes " + (long) n);
        throw new InvalidInputException(name + " has num_classes " + (long) n + " but --classes is " + classes);
    }

    static long[] prepend(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    static long[] tail(long[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // cleaning up after the real error
        }
    }

    @Override
    public void close() {
        teacher.close();
        generator.close();
        fake.close();
    }
}
