package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.HeunSampler;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.Teachers;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.DistillRun;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.ModeCoverage;
import dev.diffinstruct.trainer.viz.Plots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * {@code demo}: the embedded default. Distils the built-in 8-mode ring teacher into a one-step MLP
 * generator, then compares it with the teacher's own 18-step Heun sampler and with exact samples.
 */
@Command(name = "demo", header = "Distil a toy or Fashion-MNIST teacher in a minute.", mixinStandardHelpOptions = true,
        description = {"Distil the built-in 2-D Gaussian-mixture teacher (8 modes on a ring) into a one-step generator "
                + "in under a minute on two CPU cores, and compare it with the teacher's 18-step Heun sampler: modes "
                + "covered, energy distance, sampling speed. Writes samples.png, metrics.jsonl and generator.pt to --out.", "",
                "With --images, a short distillation of the committed Fashion-MNIST teacher instead; with --gan, a short "
                + "refinement of the committed DCGAN (assets/fashion-mnist/gan) by that teacher.", "",
                "Examples:",
                "  ./diffinstruct demo --steps 1000 --out /tmp/demo",
                "  ./diffinstruct demo --images --steps 100",
                "  ./diffinstruct demo --images --classes 10 \\",
                "      --teacher assets/fashion-mnist/teacher-cond.pt",
                "  ./diffinstruct demo --gan"})
final class DemoCommand implements Callable<Integer> {
    static final int SAMPLES = 4000;
    static final int TIMINGS = 9;

    @Mixin
    GlobalOptions global;

    @Option(names = "--out", defaultValue = "demo-out", paramLabel = "DIR", description = "Output folder (a previous demo there is replaced) (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (generator updates) (default: 6000; --images: 200; --gan: " + GanDemo.STEPS + ").")
    Long stepsOption;

    @Option(names = "--images", description = {"Instead: a short distillation of an image teacher (default: the committed",
            "Fashion-MNIST teacher) into its one-step copy, drawn beside the teacher's Heun samples."})
    boolean images;

    @Option(names = "--gan", description = {"Instead: refine a GAN generator (default: the committed Fashion-MNIST DCGAN) by the image",
            "teacher; the same latents before and after, and the FID on 1,000 samples of each."})
    boolean gan;

    @Option(names = "--generator", paramLabel = "G.pt", description = "With --gan: the generator forward(z) -> x in [-1, 1] (default: assets/fashion-mnist/gan/gan.pt).")
    Path ganGenerator;

    @Option(names = "--teacher", paramLabel = "T.pt",
            description = "With --images or --gan: the EDM teacher forward(x, sigma) (default: assets/fashion-mnist/teacher.pt of this checkout).")
    Path imageTeacher;

    @Option(names = "--batch", paramLabel = "N", description = "With --images or --gan: samples per update (default: 16).")
    Integer imageBatch;

    @Option(names = "--classes", defaultValue = "0", paramLabel = "C",
            description = "With --images: classes of a class-conditional teacher (0: unconditional); the grids then show one class per column (default: ${DEFAULT-VALUE}).")
    int classes;

    @Option(names = "--data-shape", split = ",", paramLabel = "C,H,W",
            description = "With --images: one image's shape, for a teacher without a data_shape attribute.")
    long[] dataShape;

    long steps;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of everything random (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-q", "--quiet"}, description = "No progress output.")
    boolean quiet;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (images && gan) throw new InvalidInputException("--images and --gan are two different demos: give one");
        steps = stepsOption != null ? stepsOption : images ? 200 : gan ? GanDemo.STEPS : 6000;
        if (steps < 1) throw new InvalidInputException("--steps must be >= 1, got " + steps);
        if (images) return imageDemo();
        if (gan) return GanDemo.run(this);
        DistillConfig cfg = DistillConfig.mixtureDefaults();
        cfg.warmupFake = Math.min(cfg.warmupFake, steps / 10);
        if (!quiet) spec.commandLine().getOut().printf("demo: distilling the 8-mode ring teacher into a one-step MLP generator (%d steps, batch %d) -> %s%n",
                steps, cfg.batch, out);
        return distil(cfg, SAMPLES, false, this::report);
    }

    /** What a demo draws and prints after training, given the generator's samples before it. */
    interface Report {
        void write(DistillRun di, Tensor before, PrintWriter w);
    }

    /**
     * Shared by both demos: replaces a previous demo in --out, runs {@code cfg} for --steps with
     * --seed, and hands {@code report} n samples of the (EMA if {@code ema}) generator from before training.
     */
    int distil(DistillConfig cfg, long n, boolean ema, Report report) {
        clearPreviousDemo(out);
        cfg.out = out.toString();
        cfg.steps = steps;
        cfg.seed = seed;
        cfg.ckptEvery = Math.max(cfg.ckptEvery, steps);
        cfg.logEvery = Math.max(1, Math.min(cfg.logEvery, steps / 20));
        Tensor[] before = new Tensor[1];
        DistillRunner.Display display = new DistillRunner.Display(quiet, 0, Progress.stdoutIsTerminal());
        try {
            return DistillRunner.run(cfg, dev.diffinstruct.trainer.run.Resume.NO, display, spec.commandLine().getOut(), spec.commandLine().getErr(), new DistillRunner.Hooks() {
                @Override
                public void before(DistillRun di) {
                    try (Generator g = new Generator(seed + 11)) {
                        before[0] = di.sample(g, n, ema);
                    }
                }

                @Override
                public String resumeAdvice(DistillRun di) { // the demo itself always starts afresh
                    return "continue the training with ./diffinstruct distill --out " + di.config().out + " --resume"
                            + " (the demo's table is drawn only by a complete demo)";
                }

                @Override
                public void after(DistillRun di, PrintWriter w) {
                    report.write(di, before[0], w);
                }
            });
        } finally {
            if (before[0] != null) before[0].close();
        }
    }

    /** The committed teacher: the launcher passes the checkout as diffinstruct.home. */
    Path defaultImageTeacher() {
        Path p = committed("teacher.pt");
        if (!Files.exists(p))
            throw new InvalidInputException("no image teacher at " + p + ": give --teacher T.pt (an EDM denoiser forward(x, sigma))");
        return p;
    }

    /** A file of the checkout's assets/fashion-mnist (the launcher passes the checkout as diffinstruct.home). */
    static Path committed(String name) {
        String home = System.getProperty("diffinstruct.home");
        return Path.of(home == null ? "." : home).resolve("assets/fashion-mnist").resolve(name);
    }

    /** --images: distil an image teacher for a few steps and draw before / after / teacher grids. */
    private int imageDemo() {
        DistillConfig cfg = new DistillConfig();
        cfg.teacher = (imageTeacher != null ? imageTeacher : defaultImageTeacher()).toString();
        cfg.batch = imageBatch != null ? imageBatch : 16;
        if (dataShape != null) cfg.dataShape = dataShape;
        if (classes < 0) throw new InvalidInputException("--classes must be >= 0, got " + classes);
        cfg.classes = classes;
        // a conditional run samples class i mod C (DiffInstruct.sample), so C columns show one class each
        int n = classes > 0 ? 4 * classes : 32, cols = classes > 0 ? classes : 8;
        if (!quiet) spec.commandLine().getOut().printf("demo --images: distilling %s into its one-step copy g(z) = D(%.1f z, %.1f) (%d steps, batch %d) -> %s%n",
                cfg.teacher, cfg.initSigma, cfg.initSigma, steps, cfg.batch, out);
        return distil(cfg, n, true, (di, before, w) -> {
            try (Scope s = Scope.open(); Generator g = new Generator(seed + 11)) {
                Tensor after = di.sample(g, n, true);
                HeunSampler heun = new HeunSampler(di.teacher());
                long[] labels = classes > 0 ? CliIo.labels(n, classes, CliIo.LABEL_EACH, seed) : null;
                Tensor onehot = labels == null ? null : Teachers.oneHot(labels, classes, di.device());
                long t0 = System.nanoTime();
                Tensor teacher = heun.sample(Tensor.randn(g, Shapes.prepend(n, di.dataShape())).to(di.device()), onehot, null);
                double heunSecs = (System.nanoTime() - t0) / 1e9;
                Path png = out.resolve("samples.png");
                Plots.imageGrids(png, List.of(new Plots.Grid("one-step, before (1 NFE)", before),
                        new Plots.Grid("one-step, after " + steps + " steps (1 NFE)", after),
                        new Plots.Grid("teacher: Heun, " + heun.nfePerSample() + " NFE", teacher)), cols);
                w.printf(Locale.ROOT, "teacher's Heun sampler: %d samples in %.1f s; wrote %s%n", n, heunSecs, png);
            }
        });
    }

    /** A row of the summary table. */
    private record Row(String name, ModeCoverage modes, double energy, double samplesPerSecond) {}

    private void report(DistillRun di, Tensor initial, PrintWriter w) {
        MixtureTeacher truth = MixtureTeacher.defaultRing();
        try (Scope s = Scope.open(); Generator g = new Generator(seed + 12)) {
            Tensor exact = truth.sample(g, SAMPLES), exact2 = truth.sample(g, SAMPLES);
            HeunSampler heun = new HeunSampler(di.teacher());
            Tensor teacher = heun.sample(Tensor.randn(g, SAMPLES, 2), null, null); // the reported samples; also warm-ups
            Tensor gen = di.sample(g, SAMPLES, true);
            Speed speed;
            try (Generator timing = new Generator(seed + 13)) {
                speed = Speed.measure(SAMPLES, TIMINGS, () -> heun.sample(Tensor.randn(timing, SAMPLES, 2), null, null), () -> di.sample(timing, SAMPLES, true));
            }
            double teacherRate = speed.teacherRate(), genRate = speed.generatorRate();
            List<Row> rows = List.of(
                    new Row("exact samples (2nd set)", ModeCoverage.of(truth, exact2), EnergyDistance.between(exact2, exact), Double.NaN),
                    new Row("teacher, Heun " + heun.nfePerSample() + " NFE", ModeCoverage.of(truth, teacher), EnergyDistance.between(teacher, exact), teacherRate),
                    new Row("one-step generator, 1 NFE", ModeCoverage.of(truth, gen), EnergyDistance.between(gen, exact), genRate),
                    new Row("generator before training", ModeCoverage.of(truth, initial), EnergyDistance.between(initial, exact), Double.NaN));
            w.printf(Locale.ROOT, "%n%-28s %6s %11s %10s %16s %12s%n", "", "modes", "max|w-1/8|", "in 3 std", "energy distance", "samples/s");
            for (Row r : rows) {
                w.printf(Locale.ROOT, "%-28s %4d/8 %11.3f %9.0f%% %16.5f %12s%n", r.name(), r.modes().modesCovered(), r.modes().maxWeightError(),
                        100 * r.modes().within3Std(), r.energy(), Double.isNaN(r.samplesPerSecond()) ? "" : String.format(Locale.ROOT, "%,.0f", r.samplesPerSecond()));
            }
            w.printf(Locale.ROOT, "one-step sampling is %.1fx faster than the teacher's Heun sampler (median of %d alternating timings; range %.1fx-%.1fx)%n",
                    speed.median(), TIMINGS, speed.lo(), speed.hi());
            float[] modes = new float[truth.components() * 2];
            for (int k = 0; k < truth.components(); k++) {
                modes[2 * k] = (float) truth.means()[k][0];
                modes[2 * k + 1] = (float) truth.means()[k][1];
            }
            Path png = out.resolve("samples.png");
            Plots.scatter(png, List.of(Plots.Panel.of("generator before training", initial),
                    Plots.Panel.of("teacher: Heun, " + heun.nfePerSample() + " NFE", teacher),
                    Plots.Panel.of("one-step generator: 1 NFE", gen),
                    Plots.Panel.of("exact samples", exact)), modes);
            Npy.write(out.resolve("teacher_samples.npy"), teacher);
            Npy.write(out.resolve("generator_samples.npy"), gen);
            w.println("wrote " + png + ", teacher_samples.npy, generator_samples.npy");
        }
    }

    /**
     * Sampling speed of the teacher and the generator, timed in alternating pairs so that a change of
     * load hits both sides alike: samples/s are medians, the speed-up is the median of the pairs'
     * ratios with their range.
     */
    record Speed(double teacherRate, double generatorRate, double median, double lo, double hi) {
        static Speed measure(long n, int pairs, Supplier<Tensor> teacher, Supplier<Tensor> generator) {
            double[] t = new double[pairs], g = new double[pairs], ratio = new double[pairs];
            for (int i = 0; i < pairs; i++) {
                t[i] = seconds(teacher);
                g[i] = seconds(generator);
                ratio[i] = t[i] / g[i];
            }
            Arrays.sort(t);
            Arrays.sort(g);
            Arrays.sort(ratio);
            return new Speed(n / t[pairs / 2], n / g[pairs / 2], ratio[pairs / 2], ratio[0], ratio[pairs - 1]);
        }

        private static double seconds(Supplier<Tensor> draw) {
            long t0 = System.nanoTime();
            try (Tensor x = draw.get()) {
                return (System.nanoTime() - t0) / 1e9;
            }
        }
    }

    /** Removes what an earlier demo wrote to {@code dir}, so that the demo can run again. */
    private static void clearPreviousDemo(Path dir) {
        Path ckpt = dir.resolve("checkpoints");
        if (!Files.isDirectory(ckpt)) return;
        try (Stream<Path> files = Files.list(ckpt)) {
            for (Path p : files.toList()) if (p.getFileName().toString().startsWith("ckpt-") || p.getFileName().toString().startsWith(".")) Files.delete(p);
            Files.deleteIfExists(dir.resolve("metrics.jsonl"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear the previous demo in " + dir + ": " + e.getMessage(), e);
        }
    }
}
