package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.Teachers;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Checks and file handling shared by the sample, teacher-sample and eval commands. */
final class CliIo {
    private CliIo() {}

    /** An existing regular file, or an {@link InvalidInputException} naming the option. */
    static Path inputFile(Path p, String option) {
        if (!Files.exists(p)) throw new InvalidInputException(option + " " + p + ": no such file");
        if (Files.isDirectory(p)) throw new InvalidInputException(option + " " + p + ": is a directory, not a file");
        if (!Files.isReadable(p)) throw new InvalidInputException(option + " " + p + ": file is not readable");
        return p;
    }

    /** An .npy path whose folder exists and is writable. */
    static Path outputNpy(Path p, String option) {
        if (!p.getFileName().toString().endsWith(".npy")) throw new InvalidInputException(option + " " + p + ": must end in .npy");
        Path dir = p.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) throw new InvalidInputException(option + " " + p + ": folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new InvalidInputException(option + " " + p + ": folder " + dir + " is not writable");
        if (Files.isDirectory(p)) throw new InvalidInputException(option + " " + p + ": is a directory");
        return p;
    }

    static Tensor readNpy(Path p, String option) {
        inputFile(p, option);
        try {
            return Npy.read(p);
        } catch (ModelFileException e) {
            throw new InvalidInputException(option + " " + e.getMessage().replaceFirst("^Npy.read: ", ""), e);
        }
    }

    static ScriptModule loadModule(Path p, String option, Device device) {
        inputFile(p, option);
        try {
            return ScriptModule.load(p, device);
        } catch (ModelFileException e) {
            throw new InvalidInputException(option + " " + e.getMessage().replaceFirst("^Module.load: ", ""), e);
        }
    }

    static long[] checkShape(long[] shape, String option) {
        if (shape == null || shape.length == 0) throw new InvalidInputException(option + " needs at least one size, e.g. 2 or 3,32,32");
        for (long d : shape)
            if (d <= 0) throw new InvalidInputException(option + " " + shapeString(shape) + ": sizes must be positive");
        return shape;
    }

    static String shapeString(long[] shape) {
        StringBuilder b = new StringBuilder();
        for (long d : shape) b.append(b.isEmpty() ? "" : ",").append(d);
        return b.toString();
    }

    /** Default --batch of the sampling commands on CUDA, where large batches keep the GPU busy. */
    static final int BATCH_CUDA = 1000;
    /** ... and on the CPU, where small batches stay in cache (measured: sample --help, teacher-sample --help). */
    static final int GENERATOR_BATCH_CPU = 100, TEACHER_BATCH_CPU = 50;

    /** The --batch given, else the device's default (cpuDefault on the CPU, BATCH_CUDA on CUDA). */
    static int batchOr(Integer given, Device dev, int cpuDefault) {
        int b = given != null ? given : dev.isCuda() ? BATCH_CUDA : cpuDefault;
        positive(b, "--batch");
        return b;
    }

    static void positive(long v, String option) {
        if (v < 1) throw new InvalidInputException(option + " must be >= 1, got " + v);
    }

    /**
     * Writes samples to {@code out} and their labels beside it; unlabelled samples remove a labels
     * file left there by an earlier run, so eval never pairs samples with another run's labels.
     */
    static void writeSamples(Path out, Tensor x, long[] labels) {
        Npy.write(out, x);
        Path l = labelsPath(out);
        if (labels != null) {
            try (Scope s = Scope.open()) {
                Npy.write(l, Tensor.of(labels, labels.length));
            }
            return;
        }
        try {
            java.nio.file.Files.deleteIfExists(l);
        } catch (java.io.IOException e) {
            throw new InvalidInputException("cannot remove the stale labels " + l + " beside --out: " + e.getMessage());
        }
    }

    /** Path of the labels written next to {@code out}: samples.npy -> samples.labels.npy. */
    static Path labelsPath(Path out) {
        String name = out.getFileName().toString();
        return out.resolveSibling(name.substring(0, name.length() - 4) + ".labels.npy");
    }

    /** {@code --label}'s values besides a class number; the default draws labels at random. */
    static final String LABEL_RANDOM = "random", LABEL_EACH = "each";
    static final String LABEL_HELP = "Class of the samples: K (every sample), random (uniform, from --seed) or each "
            + "(sample i gets class i mod C, so grid --cols C puts one class per column).";

    /**
     * Class labels for {@code n} samples as {@code --label} asks: {@code K}, {@code random} (uniform
     * from a generator seeded with {@code seed}, separate from the noise generator; -1 means the same)
     * or {@code each} (i mod classes).
     */
    static long[] labels(long n, int classes, String label, long seed) {
        if (classes < 1) {
            if (!LABEL_RANDOM.equals(label) && !"-1".equals(label))
                throw new InvalidInputException("--label " + label + " needs a class-conditional model: give --classes C");
            return null;
        }
        long[] out = new long[Math.toIntExact(n)];
        if (LABEL_EACH.equals(label)) {
            for (int i = 0; i < out.length; i++) out[i] = i % classes;
            return out;
        }
        if (!LABEL_RANDOM.equals(label) && !"-1".equals(label)) {
            int k;
            try {
                k = Integer.parseInt(label);
            } catch (NumberFormatException e) {
                throw new InvalidInputException("--label must be a class number, random or each, got '" + label + "'");
            }
            if (k < 0 || k >= classes) throw new InvalidInputException("--label " + k + " is outside [0, " + classes + ")");
            Arrays.fill(out, k);
            return out;
        }
        try (Scope s = Scope.open(); Generator g = new Generator(seed ^ 0x5DEECE66DL)) {
            return Tensor.randint(g, 0, classes, n).toLongArray();
        }
    }

    /**
     * Runs a generator {@code forward(z[, class_labels])} over {@code n} latents drawn row by row
     * from {@code seed} (so the result does not depend on the batch size); float32 [n, ...] on the CPU.
     */
    static Tensor runGenerator(ScriptModule gen, Path file, long n, long[] latent, int batch, long seed, long[] labels,
                               int classes, Device device, PrintWriter progress) {
        long[] one = Shapes.prepend(1, latent);
        Tensor out;
        try (var ng = dev.diffinstruct.torch.Torch.noGrad(); Scope scope = Scope.open(); Generator g = new Generator(seed, device)) {
            List<Tensor> parts = new ArrayList<>();
            for (long start = 0; start < n; start += batch) {
                dev.diffinstruct.trainer.StopRequest.check("while sampling the generator; nothing was written");
                long b = Math.min(batch, n - start);
                try (Scope bs = Scope.open()) {
                    List<Tensor> rows = new ArrayList<>();
                    for (long i = 0; i < b; i++) rows.add(Tensor.randn(g, DType.FLOAT32, device, one));
                    Tensor z = Tensor.cat(rows, 0);
                    Tensor x;
                    try {
                        if (labels != null) {
                            long[] lab = Arrays.copyOfRange(labels, (int) start, (int) (start + b));
                            x = gen.forward(z, Teachers.oneHot(lab, classes, device));
                        } else {
                            x = gen.forward(z);
                        }
                    } catch (TorchException e) {
                        throw new InvalidInputException("--generator " + file + " failed on latents of shape " + Arrays.toString(z.shape())
                                + (labels != null ? " with " + classes + "-class labels" : "") + ": " + Teachers.reason(e), e);
                    }
                    if (x.dim() < 1 || x.size(0) != b)
                        throw new InvalidInputException("--generator " + file + " returned shape " + Arrays.toString(x.shape())
                                + " for a batch of " + b + " latents");
                    parts.add(bs.keep(x.to(DType.FLOAT32).to(Device.CPU).contiguous()));
                }
                if (progress != null && n > batch) progress.printf("generated %d/%d%n", start + b, n);
            }
            out = scope.keep(parts.size() == 1 ? parts.get(0).alias() : Tensor.cat(parts, 0));
        }
        return out;
    }

    /**
     * A generator with a {@code num_classes} attribute (as distill writes for class-conditional
     * runs) must be sampled with that many --classes; without the attribute nothing is checked.
     */
    static void checkClasses(ScriptModule gen, Path file, int classes) {
        if (!gen.hasAttribute("num_classes")) return;
        long n;
        try {
            n = (long) gen.getDouble("num_classes");
        } catch (TorchException e) {
            return;
        }
        if (n == classes) return;
        if (n > 0 && classes == 0)
            throw new InvalidInputException("--generator " + file + " is class-conditional (num_classes " + n + "): give --classes " + n + " (and --label K for one class)");
        if (n > 0) throw new InvalidInputException("--classes " + classes + " disagrees with the generator's num_classes " + n);
        throw new InvalidInputException("--generator " + file + " is unconditional (num_classes 0): drop --classes");
    }

    /** The generator's latent shape: its {@code latent_shape} attribute, else {@code --latent-dim}. */
    static long[] latentShape(ScriptModule gen, Path file, long[] latentDim) {
        long[] attr = null;
        if (gen.hasAttribute("latent_shape")) {
            try {
                attr = gen.getIntList("latent_shape");
            } catch (TorchException e) {
                throw new InvalidInputException("--generator " + file + ": attribute latent_shape is not a list of ints");
            }
        }
        if (latentDim != null) {
            checkShape(latentDim, "--latent-dim");
            if (attr != null && !Arrays.equals(attr, latentDim))
                throw new InvalidInputException("--latent-dim " + shapeString(latentDim) + " disagrees with the generator's latent_shape "
                        + shapeString(attr));
            return latentDim;
        }
        if (attr == null)
            throw new InvalidInputException("--generator " + file + " has no latent_shape attribute: give --latent-dim D[,H,W]");
        return checkShape(attr, "latent_shape of " + file);
    }
}
