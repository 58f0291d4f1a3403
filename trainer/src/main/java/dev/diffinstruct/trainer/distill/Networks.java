package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.diffusion.Shapes;
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

    /** Builds and checks the networks for {@code cfg}. */
    public static Networks resolve(DistillConfig cfg) {
        cfg.validate();
        Device device = DeviceOption.parse(cfg.device);
        int classes = cfg.classes;
        List<AutoCloseable> made = new ArrayList<>();
        try {
            // ---- teacher
            long[] dataShape = cfg.dataShape;
            ScriptModule teacher = loadTeacher(cfg, device);
            made.add(teacher);
            if (DistillConfig.BUILTIN_MIXTURE.equals(cfg.teacher)) dataShape = new long[] {2};
            String teacherName = "teacher " + cfg.teacher;

            // ---- generator file first: it may be what tells the data shape
            ScriptModule userGen = null;
            if (cfg.generator != null && !DistillConfig.BUILTIN_MLP.equals(cfg.generator)) {
                ScriptModule loaded = ScriptModule.load(Path.of(cfg.generator));
                userGen = loaded.trainableCopy();
                loaded.close();
                made.add(userGen);
                userGen.to(device);
                if (cfg.genScale != 1 || cfg.genShift != 0) {
                    ScriptModule mapped = UserGenerator.affine(userGen, cfg.genScale, cfg.genShift, classes);
                    made.remove(userGen);
                    userGen.close(); // the map holds the copy as its submodule: this handle is no longer needed
                    made.add(mapped);
                    userGen = mapped;
                }
            }
            long[] latentShape = cfg.latentShape;
            if (userGen != null && latentShape == null) {
                if (!userGen.hasAttribute("latent_shape"))
                    throw new InvalidInputException("generator " + cfg.generator + " has no latent_shape attribute: give --latent-dim");
                latentShape = userGen.getIntList("latent_shape");
            }
            if (dataShape == null && teacher.hasAttribute("data_shape")) dataShape = teacher.getIntList("data_shape");
            if (userGen != null) Teachers.checkClassesAttribute(userGen, "generator " + cfg.generator, classes);
            if (dataShape == null && userGen != null)
                dataShape = Shapes.tail(GeneratorNet.check(userGen, classes, "generator " + cfg.generator, device, latentShape));
            if (dataShape == null)
                throw new InvalidInputException("cannot tell the data shape of " + teacherName + ": give --data-shape (e.g. 3,32,32)");
            Denoiser.check(teacher, classes, teacherName, null, device, dataShape);
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
            long[] out = Shapes.tail(GeneratorNet.check(generator, classes, "generator", device, latentShape));
            if (!Arrays.equals(out, dataShape))
                throw new InvalidInputException("the generator's output shape " + Arrays.toString(out)
                        + " differs from the teacher's data shape " + Arrays.toString(dataShape));
            if (userGen != null && cfg.genRangeCheck)
                UserGenerator.checkRange(generator, "generator " + cfg.generator, classes, latentShape, dataShape, device);
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
                ScriptModule loaded = ScriptModule.load(Path.of(cfg.fake));
                fake = loaded.trainableCopy();
                loaded.close();
            }
            made.add(fake);
            fake.to(device).requiresGrad(true);
            if (fake.parameterCount() == 0) throw new InvalidInputException("the fake score has no trainable parameters");
            String fakeName = "fake score " + (cfg.fake == null ? "(copy of the teacher)" : cfg.fake);
            Teachers.checkClassesAttribute(fake, fakeName, classes);
            Denoiser.check(fake, classes, fakeName, null, device, dataShape);

            return new Networks(teacher, generator, fake, latentShape, dataShape);
        } catch (RuntimeException e) {
            for (AutoCloseable c : made) closeQuietly(c);
            throw e;
        }
    }

    /** The teacher's EDM view, frozen, on {@code device}, checked on a dummy batch of {@code dataShape}: a resumed run's. */
    static ScriptModule teacher(DistillConfig cfg, Device device, long[] dataShape) {
        ScriptModule t = loadTeacher(cfg, device);
        try {
            Denoiser.check(t, cfg.classes, "teacher " + cfg.teacher, null, device, dataShape);
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** The run's teacher through the one loader ({@link Teachers#load}). */
    private static ScriptModule loadTeacher(DistillConfig cfg, Device device) {
        if (DistillConfig.BUILTIN_MIXTURE.equals(cfg.teacher) && cfg.dataShape != null && !Arrays.equals(cfg.dataShape, new long[] {2}))
            throw new InvalidInputException("the built-in mixture teacher has data shape [2], not --data-shape " + Arrays.toString(cfg.dataShape));
        return Teachers.load(cfg.teacher, cfg.teacherSpec(), device);
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
