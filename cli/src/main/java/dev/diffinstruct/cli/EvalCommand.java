package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.metrics.Features;
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
@Command(name = "eval", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"Compare samples (an .npy file, or drawn from a generator) with reference data. With --features F.pt "
                + "(a TorchScript network forward(x) -> [N, F], e.g. an Inception feature extractor): Frechet distance "
                + "(FID) and precision/recall (k-NN manifolds) in that feature space. Without it, for low-dimensional "
                + "data [N, D]: the same metrics on the data themselves.", "",
                "Example: ./diffinstruct eval --samples samples.npy --reference data.npy", "",
                "Example: ./diffinstruct eval --generator out/generator.pt --n 10000 --reference cifar.npy --features inception.pt"})
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

    @Option(names = "--reference", required = true, paramLabel = "R.npy", description = "Reference data, [M, ...] of the samples' shape.")
    Path reference;

    @Option(names = "--features", paramLabel = "F.pt", description = "Feature network forward(x) -> [N, F]; needed for image-shaped data.")
    Path features;

    @Option(names = "--k", defaultValue = "3", paramLabel = "K", description = "Neighbourhood size of precision/recall.")
    int k;

    @Option(names = "--batch", defaultValue = "500", paramLabel = "B", description = "Batch size for the feature network, distances and the generator.")
    int batch;

    @Option(names = "--n", defaultValue = "10000", paramLabel = "N", description = "With --generator: number of samples.")
    long n;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "With --generator: seed of the latents.")
    long seed;

    @Option(names = "--latent-dim", split = ",", paramLabel = "D", description = "With --generator: latent shape (D or C,H,W), if it has no latent_shape attribute.")
    long[] latentDim;

    @Option(names = "--classes", defaultValue = "0", paramLabel = "C", description = "With --generator: classes of a class-conditional generator (random labels).")
    int classes;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV", description = "cpu, cuda or cuda:N.")
    String device;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CliIo.positive(batch, "--batch");
        CliIo.positive(k, "--k");
        Device dev = Device.parse(device).check();
        try (Scope s = Scope.open()) {
            Tensor ref = CliIo.readNpy(reference, "--reference");
            Tensor x = samples(dev);
            long[] xs = Arrays.copyOfRange(x.shape(), 1, x.dim()), rs = Arrays.copyOfRange(ref.shape(), 1, ref.dim());
            if (ref.dim() < 2 || !Arrays.equals(xs, rs))
                throw new InvalidInputException("samples " + Arrays.toString(x.shape()) + " and --reference " + Arrays.toString(ref.shape())
                        + " must be [N, ...] with the same shape per sample");
            if (!x.to(DType.FLOAT64).allFinite()) throw new InvalidInputException("the samples contain NaN or infinite values");
            out.printf("samples: %d x %s, reference: %d x %s%n", x.size(0), Arrays.toString(xs), ref.size(0), Arrays.toString(rs));
            Tensor fx, fr;
            String space;
            if (features != null) {
                try (ScriptModule net = CliIo.loadModule(features, "--features", dev)) {
                    net.train(false);
                    fx = Features.extract(net, x, batch, dev);
                    fr = Features.extract(net, ref, batch, dev);
                }
                space = "features of " + features.getFileName() + " (" + fx.size(1) + "-d)";
            } else {
                if (x.dim() != 2)
                    throw new InvalidInputException("samples of shape " + Arrays.toString(xs) + " per sample are not low-dimensional data [N, D]: "
                            + "give --features F.pt to compare them in a feature space");
                fx = x.to(DType.FLOAT64);
                fr = ref.to(DType.FLOAT64);
                space = "data space";
                lowDimMetrics(x, ref, out);
            }
            double fd = FrechetDistance.between(fx, fr);
            out.printf("frechet distance (%s): %.6g%n", space, fd);
            PrecisionRecall.Result pr = PrecisionRecall.compute(fr, fx, k, batch);
            out.printf("precision (k=%d): %.4f%n", k, pr.precision());
            out.printf("recall (k=%d): %.4f%n", k, pr.recall());
        }
        return Main.EXIT_OK;
    }

    private Tensor samples(Device dev) {
        if (source.samples != null) return CliIo.readNpy(source.samples, "--samples");
        CliIo.positive(n, "--n");
        if (classes < 0) throw new InvalidInputException("--classes must be >= 0, got " + classes);
        try (ScriptModule gen = CliIo.loadModule(source.generator, "--generator", dev)) {
            gen.train(false);
            long[] latent = CliIo.latentShape(gen, source.generator, latentDim);
            long[] labels = CliIo.labels(n, classes, -1, seed);
            return CliIo.runGenerator(gen, source.generator, n, latent, batch, seed, labels, classes, dev, spec.commandLine().getErr());
        }
    }

    /**
     * Hook for the low-dimensional metrics of the distillation runs.
     * TODO(distill merge): trainer.metrics.EnergyDistance and ModeCoverage are written on the
     * distill branch (not in main when this was written). Once merged, print here
     * {@code EnergyDistance.between(samples, reference)} and, when the data come from the built-in
     * mixture (an option such as {@code --mixture ring}), {@code ModeCoverage.of(teacher, samples)}.
     */
    private static void lowDimMetrics(Tensor samples, Tensor reference, PrintWriter out) {
        try (Scope s = Scope.open()) {
            Tensor m1 = samples.to(DType.FLOAT64).mean(new long[] {0}, false), m2 = reference.to(DType.FLOAT64).mean(new long[] {0}, false);
            Tensor s1 = samples.to(DType.FLOAT64).std(new long[] {0}, false), s2 = reference.to(DType.FLOAT64).std(new long[] {0}, false);
            out.printf("mean: samples %s, reference %s%n", fmt(m1.toDoubleArray()), fmt(m2.toDoubleArray()));
            out.printf("std:  samples %s, reference %s%n", fmt(s1.toDoubleArray()), fmt(s2.toDoubleArray()));
        }
    }

    private static String fmt(double[] v) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < v.length && i < 8; i++) b.append(i == 0 ? "" : ", ").append(String.format("%.4f", v[i]));
        if (v.length > 8) b.append(", ...");
        return b.append("]").toString();
    }
}
