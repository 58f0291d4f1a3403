package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.Features;
import dev.diffinstruct.trainer.metrics.LabelAccuracy;
import dev.diffinstruct.trainer.metrics.ModeCoverage;
import dev.diffinstruct.trainer.metrics.FrechetDistance;
import dev.diffinstruct.trainer.metrics.PrecisionRecall;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;

/** {@code eval}: compares samples (from a file or a generator) with reference data. */
@Command(name = "eval", header = "FID, precision/recall and more against reference data.", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compare samples (an .npy file, or drawn from a generator) with reference data. With --features F.pt "
                + "(a TorchScript network forward(x) -> [N, F], e.g. an Inception feature extractor): Frechet distance "
                + "(FID) and precision/recall (k-NN manifolds) in that feature space. Without it, for low-dimensional "
                + "data [N, D]: the same metrics on the data themselves, the energy distance, and with --modes how the "
                + "samples spread over the modes of a mixture. Samples with class labels (a class-conditional generator's, "
                + "or --labels) and a feature network with a logits method: how often it names each sample's class.", "",
                "Examples:",
                "  ./diffinstruct eval --samples samples.npy --reference data.npy",
                "  ./diffinstruct eval --generator demo-out/generator.pt --n 4000 \\",
                "      --reference ring.npy --modes builtin:mixture",
                "  ./diffinstruct eval --generator out/generator.pt --n 10000 \\",
                "      --reference fashion-mnist:test --features assets/fashion-mnist/features.pt"})
final class EvalCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    static final class Source {
        @Option(names = "--samples", required = true, paramLabel = "X.npy", description = "Samples to evaluate, [N, ...].")
        Path samples;

        @Option(names = "--generator", required = true, paramLabel = "G.pt", description = "Or: a generator to draw --n samples from.")
        Path generator;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--reference", required = true, paramLabel = "R.npy|DATA",
            description = "Reference data, [M, ...] of the samples' shape: an .npy file, or an image data set as train-teacher's --data takes it (e.g. fashion-mnist:test, a folder of PNGs).")
    String reference;

    @Option(names = "--features", paramLabel = "F.pt", description = "Feature network forward(x) -> [N, F]; needed for image-shaped data.")
    Path features;

    @Option(names = "--k", defaultValue = "3", paramLabel = "K", description = "Neighbourhood size of precision/recall (default: ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--batch", paramLabel = "B", description = "Batch size for the feature network, distances and the generator "
            + "(default: 500; the generator's calls: as sample's --batch, 100 on the CPU and 1000 on CUDA).")
    Integer batch;

    @Option(names = "--n", defaultValue = "10000", paramLabel = "N", description = "With --generator: number of samples (default: ${DEFAULT-VALUE}).")
    long n;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "With --generator: seed of the latents (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--latent-dim", split = ",", paramLabel = "D", description = "With --generator: latent shape (D or C,H,W), if it has no latent_shape attribute.")
    long[] latentDim;

    @Option(names = "--classes", defaultValue = "0", paramLabel = "C", description = "With --generator: classes of a class-conditional generator (random labels) (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--labels", paramLabel = "L.npy",
            description = "With --samples: the class each sample was drawn for, [N] integers (default: X.labels.npy beside X.npy, as sample and teacher-sample write it, when it exists).")
    Path labels;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEV", description = "auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--modes", paramLabel = "M.npy|builtin:mixture",
            description = "Low-dimensional data: mode coverage over these mode centres, [K, D] (weights: the reference's share nearest to "
                    + "each centre; std: --mode-std or estimated from the reference), or the built-in 8-mode ring mixture.")
    String modes;

    @Option(names = "--mode-std", paramLabel = "S", description = "With --modes M.npy: the std of every mode (unset: estimated per mode from the reference).")
    Double modeStd;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CliIo.positive(k, "--k");
        Device dev = DeviceOption.parse(device);
        int generatorBatch = CliIo.batchOr(batch, dev, CliIo.GENERATOR_BATCH_CPU); // as sample's: the generator is the costly part
        if (batch == null) batch = 500;
        CliIo.positive(batch, "--batch");
        try (Scope s = Scope.open()) {
            Reference reference = referenceData();
            Tensor ref = reference.images();
            Samples drawn = samples(dev, generatorBatch);
            Tensor x = drawn.x();
            long[] xs = Arrays.copyOfRange(x.shape(), 1, x.dim()), rs = Arrays.copyOfRange(ref.shape(), 1, ref.dim());
            if (ref.dim() < 2 || !Arrays.equals(xs, rs))
                throw new InvalidInputException("samples " + Arrays.toString(x.shape()) + " and --reference " + Arrays.toString(ref.shape())
                        + " must be [N, ...] with the same shape per sample");
            if (!x.to(DType.FLOAT64).allFinite()) throw new InvalidInputException("the samples contain NaN or infinite values");
            out.printf("samples: %d x %s, reference: %d x %s%n", x.size(0), Arrays.toString(xs), ref.size(0), Arrays.toString(rs));
            Tensor fx, fr;
            String space;
            PrintWriter err = spec.commandLine().getErr();
            boolean longEval = x.size(0) + ref.size(0) > 4000; // then each pass below takes seconds: say what runs
            if (features != null) {
                if (longEval) progress(err, "features of " + x.size(0) + " samples and " + ref.size(0) + " reference images...");
                try (ScriptModule net = CliIo.loadModule(features, "--features", dev)) {
                    net.train(false);
                    fx = Features.extract(net, x, batch, dev);
                    fr = Features.extract(net, ref, batch, dev);
                    labelAccuracy(net, drawn, reference, dev, out);
                }
                space = "features of " + features.getFileName() + " (" + fx.size(1) + "-d)";
            } else {
                if (drawn.labels() != null) out.println("label accuracy: skipped: it needs --features F.pt with a logits method");
                if (x.dim() != 2)
                    throw new InvalidInputException("samples of shape " + Arrays.toString(xs) + " per sample are not low-dimensional data [N, D]: "
                            + "give --features F.pt to compare them in a feature space");
                fx = x.to(DType.FLOAT64);
                fr = ref.to(DType.FLOAT64);
                space = "data space";
                lowDimMetrics(x, ref, out);
                modeCoverage(x, ref, out);
            }
            double fd = FrechetDistance.between(fx, fr);
            out.printf("frechet distance (%s): %.6g%n", space, fd);
            if (longEval) progress(err, "precision/recall: " + k + "-NN radii and " + fx.size(0) + " x " + fr.size(0) + " distances...");
            PrecisionRecall.Result pr = PrecisionRecall.compute(fr, fx, k, batch);
            out.printf("precision (k=%d): %.4f%n", k, pr.precision());
            out.printf("recall (k=%d): %.4f%n", k, pr.recall());
            smallSampleNote(fx.size(0), fr.size(0), fx.size(1));
        }
        return Main.EXIT_OK;
    }

    /** Reference images and, for a labelled data set, their labels (null otherwise). */
    private record Reference(Tensor images, long[] labels) {}

    /** The reference: an .npy file, or an image data set spec (scaled to [-1, 1] like the training data). */
    private Reference referenceData() {
        if (reference.toLowerCase(java.util.Locale.ROOT).endsWith(".npy"))
            return new Reference(CliIo.readNpy(Path.of(reference), "--reference"), null);
        // The data set's tensors join the scope open here (call()'s), which frees them.
        ImageDataset data = ImageDataset.load(reference);
        return new Reference(data.images(), data.hasLabels() ? data.labels().to(DType.INT64).toLongArray() : null);
    }

    /** The samples and, when known, the class each was drawn for (null otherwise). */
    private record Samples(Tensor x, long[] labels) {}

    /**
     * With labelled samples: the classifier's agreement with their labels, and for comparison with
     * a labelled reference's (the classifier's own test accuracy when the reference is its test set).
     */
    private void labelAccuracy(ScriptModule net, Samples samples, Reference ref, Device dev, PrintWriter out) {
        if (samples.labels() == null) return;
        if (!LabelAccuracy.canClassify(net)) {
            out.printf("label accuracy: skipped: %s has no %s method%n", features.getFileName(), LabelAccuracy.LOGITS);
            return;
        }
        double acc = LabelAccuracy.of(net, samples.x(), samples.labels(), batch, dev);
        String vsRef = ref.labels() == null ? "" : String.format(", reference %.4f", LabelAccuracy.of(net, ref.images(), ref.labels(), batch, dev));
        out.printf("label accuracy (argmax of %s's %s): samples %.4f%s%n", features.getFileName(), LabelAccuracy.LOGITS, acc, vsRef);
    }

    private static void progress(PrintWriter err, String what) {
        err.println(what);
        err.flush();
    }

    private Samples samples(Device dev, int generatorBatch) {
        if (source.samples != null) {
            Tensor x = CliIo.readNpy(source.samples, "--samples");
            return new Samples(x, readLabels(x.size(0)));
        }
        if (labels != null) throw new InvalidInputException("--labels goes with --samples; a generator's labels come from --classes");
        CliIo.positive(n, "--n");
        if (classes < 0) throw new InvalidInputException("--classes must be >= 0, got " + classes);
        try (ScriptModule gen = CliIo.loadModule(source.generator, "--generator", dev)) {
            gen.train(false);
            CliIo.checkClasses(gen, source.generator, classes);
            long[] latent = CliIo.latentShape(gen, source.generator, latentDim);
            long[] drawn = CliIo.labels(n, classes, CliIo.LABEL_RANDOM, seed);
            return new Samples(CliIo.runGenerator(gen, source.generator, n, latent, generatorBatch, seed, drawn, classes, dev, spec.commandLine().getErr()), drawn);
        }
    }

    /** --labels, or X.labels.npy beside --samples X.npy; null when neither is there. */
    private long[] readLabels(long count) {
        Path file = labels;
        String option = "--labels";
        if (file == null) {
            Path beside = source.samples.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".npy")
                    ? CliIo.labelsPath(source.samples) : null;
            if (beside == null || !java.nio.file.Files.isRegularFile(beside)) return null;
            file = beside;
            option = "the labels beside --samples";
        }
        try (Scope s = Scope.open()) {
            Tensor t = CliIo.readNpy(file, option);
            if (t.dim() != 1 || t.size(0) != count)
                throw new InvalidInputException(option + " " + file + " must hold " + count + " labels [" + count + "], got " + Arrays.toString(t.shape()));
            if (t.dtype().isFloatingPoint() && t.eq(t.floor()).all().item() == 0)
                throw new InvalidInputException(option + " " + file + " must hold integer class labels");
            return t.to(DType.INT64).toLongArray();
        }
    }

    /** Low-dimensional data [N, D]: means, stds and the energy distance to the reference. */
    /**
     * A warning when n is too small for these metrics to mean what they do at the usual 10,000:
     * FID is biased upwards (the more, the smaller n), and k-NN recall grows with fewer points.
     */
    private void smallSampleNote(long n, long nRef, long dims) {
        long m = Math.min(n, nRef);
        if (m >= 2000 && m >= 2 * dims) return;
        spec.commandLine().getErr().printf("note: %d samples against %d reference points (%d-d): at this n the frechet distance is"
                + " biased upwards and precision/recall are coarse; compare figures only at equal n (10,000 is the usual)%n", n, nRef, dims);
    }

    private static void lowDimMetrics(Tensor samples, Tensor reference, PrintWriter out) {
        try (Scope s = Scope.open()) {
            Tensor m1 = samples.to(DType.FLOAT64).mean(new long[] {0}, false), m2 = reference.to(DType.FLOAT64).mean(new long[] {0}, false);
            Tensor s1 = samples.to(DType.FLOAT64).std(new long[] {0}, false), s2 = reference.to(DType.FLOAT64).std(new long[] {0}, false);
            out.printf("mean: samples %s, reference %s%n", fmt(m1.toDoubleArray()), fmt(m2.toDoubleArray()));
            out.printf("std:  samples %s, reference %s%n", fmt(s1.toDoubleArray()), fmt(s2.toDoubleArray()));
            if (samples.size(0) >= 2 && reference.size(0) >= 2)
                out.printf("energy distance: %.6g%n", EnergyDistance.between(samples, reference));
        }
    }

    /** With --modes: the samples' (and for comparison the reference's) spread over the modes. */
    private void modeCoverage(Tensor samples, Tensor reference, PrintWriter out) {
        if (modes == null) {
            if (modeStd != null) throw new InvalidInputException("--mode-std needs --modes M.npy");
            return;
        }
        try (Scope s = Scope.open()) {
            MixtureTeacher mix = mixture(samples.size(1), reference.to(DType.FLOAT32));
            out.printf("modes (%s): samples: %s%n", modes, ModeCoverage.of(mix, samples.to(DType.FLOAT32)));
            out.printf("modes (%s): reference: %s%n", modes, ModeCoverage.of(mix, reference.to(DType.FLOAT32)));
        }
    }

    /** The mixture --modes describes, for data of dimension {@code dim}. */
    private MixtureTeacher mixture(long dim, Tensor reference) {
        if (DistillConfig.BUILTIN_MIXTURE.equals(modes)) {
            if (modeStd != null) throw new InvalidInputException("--mode-std applies to --modes M.npy, not " + modes);
            if (dim != 2) throw new InvalidInputException("--modes " + modes + " is 2-d, but the samples are " + dim + "-d");
            return MixtureTeacher.defaultRing();
        }
        if (modeStd != null && !(modeStd > 0 && Double.isFinite(modeStd)))
            throw new InvalidInputException("--mode-std must be > 0, got " + modeStd);
        Tensor centres = CliIo.readNpy(Path.of(modes), "--modes");
        if (centres.dim() != 2 || centres.size(1) != dim || centres.size(0) < 1)
            throw new InvalidInputException("--modes " + modes + " must hold mode centres [K, " + dim + "], got " + Arrays.toString(centres.shape()));
        if (!centres.to(DType.FLOAT64).allFinite()) throw new InvalidInputException("--modes " + modes + " contains NaN or infinite values");
        int k = Math.toIntExact(centres.size(0));
        double[] flat = centres.to(DType.FLOAT64).contiguous().toDoubleArray();
        double[][] mu = new double[k][(int) dim];
        for (int i = 0; i < k; i++) System.arraycopy(flat, i * (int) dim, mu[i], 0, (int) dim);
        double[] ones = new double[k], uniform = new double[k];
        Arrays.fill(ones, 1);
        Arrays.fill(uniform, 1.0 / k);
        // the reference, assigned to the nearest centre, gives each mode's weight (and std)
        long[] idx = new MixtureTeacher(mu, ones, uniform).nearestMode(reference).toLongArray();
        float[] ref = reference.contiguous().toFloatArray();
        long[] count = new long[k];
        double[] sq = new double[k];
        for (int r = 0; r < idx.length; r++) {
            int c = (int) idx[r];
            count[c]++;
            for (int j = 0; j < dim; j++) {
                double d = ref[r * (int) dim + j] - mu[c][j];
                sq[c] += d * d;
            }
        }
        double[] w = new double[k], std = new double[k];
        for (int i = 0; i < k; i++) {
            if (count[i] == 0) throw new InvalidInputException("--modes " + modes + ": no reference sample is nearest to mode " + i + " " + Arrays.toString(mu[i]));
            w[i] = count[i] / (double) idx.length;
            std[i] = modeStd != null ? modeStd : Math.max(1e-12, Math.sqrt(sq[i] / (count[i] * dim)));
        }
        double sum = Arrays.stream(w).sum();
        for (int i = 0; i < k; i++) w[i] /= sum;
        return new MixtureTeacher(mu, std, w);
    }

    private static String fmt(double[] v) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < v.length && i < 8; i++) b.append(i == 0 ? "" : ", ").append(String.format("%.4f", v[i]));
        if (v.length > 8) b.append(", ...");
        return b.append("]").toString();
    }
}
