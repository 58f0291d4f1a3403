package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.HeunSampler;
import dev.diffinstruct.trainer.diffusion.KarrasSchedule;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Teachers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code teacher-sample}: samples a diffusion teacher of any kind with EDM's Heun sampler. */
@Command(name = "teacher-sample", header = "Sample a teacher with EDM's Heun sampler into an .npy file.", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sample a diffusion teacher with EDM's Heun sampler (Karras et al. 2022; 2 steps - 1 network "
                + "evaluations per sample) and write the samples as a float32 .npy [N, shape...]. "
                + "Any teacher kind is first turned into the EDM view D(x, sigma); for DDPM teachers the "
                + "noise levels are rounded to the nearest table entry. The teacher is tried on a dummy batch first, "
                + "so a kind, class count or shape that does not fit is reported before sampling.", "",
                "Example:",
                "  ./diffinstruct teacher-sample --teacher ddpm.pt --teacher-kind ddpm-eps \\",
                "      --schedule cosine --shape 3,32,32 --n 1000 --out teacher.npy"})
final class TeacherSampleCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Option(names = "--teacher", required = true, paramLabel = "T.pt", description = "TorchScript teacher network.")
    Path teacher;

    @Option(names = "--teacher-kind", defaultValue = "edm", paramLabel = "KIND", converter = ScheduleOptions.KindConverter.class,
            description = "What the network computes: edm (D(x, sigma)), vp-eps (eps(x_t, t), continuous VP-SDE), "
                    + "ddpm-eps or ddpm-v (eps or v (x_t, t int64), discrete DDPM) (default: ${DEFAULT-VALUE}).")
    TeacherKind kind;

    @Mixin
    ScheduleOptions schedule;

    @Option(names = "--classes", defaultValue = "0", paramLabel = "C", description = "Classes of a class-conditional teacher (0: unconditional). Labels go to X.labels.npy (an unconditional run removes a stale one) (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--label", defaultValue = CliIo.LABEL_RANDOM, paramLabel = "K|random|each", description = CliIo.LABEL_HELP + " (default: ${DEFAULT-VALUE})")
    String label;

    @Option(names = "--shape", split = ",", paramLabel = "D",
            description = "Shape of one sample: D, or C,H,W (e.g. 3,32,32) (default: the teacher's data_shape attribute).")
    long[] shape;

    @Option(names = "--n", defaultValue = "1000", paramLabel = "N", description = "Number of samples (default: ${DEFAULT-VALUE}).")
    long n;

    @Option(names = "--steps", defaultValue = "18", paramLabel = "S", description = "Noise levels (network evaluations per sample: 2 steps - 1) (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--sigma-min", defaultValue = "0.002", paramLabel = "SIGMA", description = "Lowest noise level (default: ${DEFAULT-VALUE}).")
    double sigmaMin;

    @Option(names = "--sigma-max", defaultValue = "80", paramLabel = "SIGMA", description = "Highest noise level (default: ${DEFAULT-VALUE}).")
    double sigmaMax;

    @Option(names = "--rho", defaultValue = "7", paramLabel = "RHO", description = "Spacing exponent of the levels (default: ${DEFAULT-VALUE}).")
    double rho;

    @Option(names = "--s-churn", defaultValue = "0", paramLabel = "S", description = "Stochasticity S_churn (0: deterministic) (default: ${DEFAULT-VALUE}).")
    double sChurn;

    @Option(names = "--s-tmin", defaultValue = "0", paramLabel = "SIGMA", description = "Churn only at levels >= this (default: ${DEFAULT-VALUE}).")
    double sTmin;

    @Option(names = "--s-tmax", defaultValue = "Infinity", paramLabel = "SIGMA", description = "Churn only at levels <= this (default: ${DEFAULT-VALUE}).")
    double sTmax;

    @Option(names = "--s-noise", defaultValue = "1", paramLabel = "S", description = "Scale of the churn noise (default: ${DEFAULT-VALUE}).")
    double sNoise;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the noise (and of random labels) (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", paramLabel = "B", description = "Samples per batch (default: 50 on the CPU, where small batches stay in cache: for the Fashion-MNIST UNet on 2 cores batch 50 took 12.8 s for 250 samples, 250 took 21.8 s; 1000 on CUDA).")
    Integer batch;

    @Option(names = "--out", required = true, paramLabel = "X.npy", description = "Output .npy file.")
    Path out;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEV", description = "auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        CliIo.positive(n, "--n");
        CliIo.positive(steps, "--steps");
        if (shape != null) CliIo.checkShape(shape, "--shape");
        if (classes < 0) throw new InvalidInputException("--classes must be >= 0, got " + classes);
        CliIo.outputNpy(out, "--out");
        CliIo.inputFile(teacher, "--teacher");
        TeacherSpec ts = schedule.spec(kind, classes);
        HeunSampler.Options opt = new HeunSampler.Options(new KarrasSchedule(steps, sigmaMin, sigmaMax, rho), sChurn, sTmin, sTmax, sNoise);
        Device dev = DeviceOption.parse(device);
        int perCall = CliIo.batchOr(batch, dev, CliIo.TEACHER_BATCH_CPU);
        long t0 = System.nanoTime();
        try (ScriptModule d = Teachers.load(teacher, ts, dev); Scope s = Scope.open(); Generator g = new Generator(seed, dev)) {
            if (shape == null) {
                if (!d.hasAttribute("data_shape"))
                    throw new InvalidInputException("--teacher " + teacher + " has no data_shape attribute: give --shape D or C,H,W");
                shape = CliIo.checkShape(d.getIntList("data_shape"), "the teacher's data_shape");
            }
            Teachers.check(d, ts, shape, dev, "--teacher " + teacher);
            long[] labels = CliIo.labels(n, classes, label, seed);
            Tensor onehot = labels == null ? null : Teachers.oneHot(labels, classes, dev);
            HeunSampler sampler = new HeunSampler(d, opt);
            Tensor x = sampler.sampleMany(g, n, shape, perCall, onehot, dev,
                    n > perCall ? (done, total) -> err.printf("sampled %d/%d%n", done, total) : null);
            CliIo.writeSamples(out, x, labels);
            spec.commandLine().getOut().printf("wrote %d samples of shape [%s] to %s%s: %s teacher, %d steps, %d network evaluations per sample (%.1f s)%n",
                    n, CliIo.shapeString(shape), out, labels != null ? " and their labels to " + CliIo.labelsPath(out) : "",
                    ts.describe(), steps, sampler.nfePerSample(), (System.nanoTime() - t0) / 1e9);
        }
        return Main.EXIT_OK;
    }
}
