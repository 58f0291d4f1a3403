package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.HeunSampler;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.distill.DiffInstruct;
import dev.diffinstruct.trainer.distill.DistillConfig;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * {@code demo}: the embedded default. Distils the built-in 8-mode ring teacher into a one-step MLP
 * generator, then compares it with the teacher's own 18-step Heun sampler and with exact samples.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Distil the built-in 2-D Gaussian-mixture teacher (8 modes on a ring) into a one-step",
                "generator in under a minute on two CPU cores, and compare it with the teacher's 18-step Heun",
                "sampler: modes covered, energy distance, sampling speed. Writes samples.png, metrics.jsonl",
                "and generator.pt to --out.", "",
                "Example: ./diffinstruct demo --steps 1000 --out /tmp/demo"})
final class DemoCommand implements Callable<Integer> {
    static final int SAMPLES = 4000;

    @Mixin
    GlobalOptions global;

    @Option(names = "--out", defaultValue = "demo-out", paramLabel = "DIR", description = "Output folder (a previous demo there is replaced).")
    Path out;

    @Option(names = "--steps", defaultValue = "6000", paramLabel = "N", description = "Training steps (generator updates).")
    long steps;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of everything random.")
    long seed;

    @Option(names = {"-q", "--quiet"}, description = "No progress output.")
    boolean quiet;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (steps < 1) throw new InvalidInputException("--steps must be >= 1, got " + steps);
        PrintWriter o = spec.commandLine().getOut();
        clearPreviousDemo(out);
        DistillConfig cfg = DistillConfig.mixtureDefaults();
        cfg.out = out.toString();
        cfg.steps = steps;
        cfg.seed = seed;
        cfg.warmupFake = Math.min(cfg.warmupFake, steps / 10);
        cfg.ckptEvery = Math.max(cfg.ckptEvery, steps);
        cfg.logEvery = Math.max(1, Math.min(cfg.logEvery, steps / 20));
        if (!quiet) o.printf("demo: distilling the 8-mode ring teacher into a one-step MLP generator (%d steps, batch %d) -> %s%n",
                steps, cfg.batch, out);
        Tensor[] before = new Tensor[1];
        DistillRunner.Display display = new DistillRunner.Display(quiet, 0, Progress.stdoutIsTerminal());
        try {
            return DistillRunner.run(cfg, false, display, o, spec.commandLine().getErr(), new DistillRunner.Hooks() {
                @Override
                public void before(DiffInstruct di) {
                    try (Generator g = new Generator(seed + 11)) {
                        before[0] = di.sample(g, SAMPLES, false);
                    }
                }

                @Override
                public void after(DiffInstruct di, PrintWriter w) {
                    report(di, before[0], w);
                }
            });
        } finally {
            if (before[0] != null) before[0].close();
        }
    }

    /** A row of the summary table. */
    private record Row(String name, ModeCoverage modes, double energy, double samplesPerSecond) {}

    private void report(DiffInstruct di, Tensor initial, PrintWriter w) {
        MixtureTeacher truth = MixtureTeacher.defaultRing();
        try (Scope s = Scope.open(); Generator g = new Generator(seed + 12)) {
            Tensor exact = truth.sample(g, SAMPLES), exact2 = truth.sample(g, SAMPLES);
            HeunSampler heun = new HeunSampler(di.teacher());
            Tensor[] teacher = new Tensor[1];
            double teacherRate = rate(SAMPLES, () -> teacher[0] = heun.sample(Tensor.randn(g, SAMPLES, 2), null, null));
            Tensor[] gen = new Tensor[1];
            double genRate = rate(SAMPLES, () -> gen[0] = di.sample(g, SAMPLES, true));
            List<Row> rows = List.of(
                    new Row("exact samples (2nd set)", ModeCoverage.of(truth, exact2), EnergyDistance.between(exact2, exact), Double.NaN),
                    new Row("teacher, Heun " + heun.nfePerSample() + " NFE", ModeCoverage.of(truth, teacher[0]), EnergyDistance.between(teacher[0], exact), teacherRate),
                    new Row("one-step generator, 1 NFE", ModeCoverage.of(truth, gen[0]), EnergyDistance.between(gen[0], exact), genRate),
                    new Row("generator before training", ModeCoverage.of(truth, initial), EnergyDistance.between(initial, exact), Double.NaN));
            w.printf(Locale.ROOT, "%n%-28s %6s %11s %10s %16s %12s%n", "", "modes", "max|w-1/8|", "in 3 std", "energy distance", "samples/s");
            for (Row r : rows) {
                w.printf(Locale.ROOT, "%-28s %4d/8 %11.3f %9.0f%% %16.5f %12s%n", r.name(), r.modes().modesCovered(), r.modes().maxWeightError(),
                        100 * r.modes().within3Std(), r.energy(), Double.isNaN(r.samplesPerSecond()) ? "" : String.format(Locale.ROOT, "%,.0f", r.samplesPerSecond()));
            }
            w.printf(Locale.ROOT, "one-step sampling is %.0fx faster than the teacher's Heun sampler%n", genRate / teacherRate);
            float[] modes = new float[truth.components() * 2];
            for (int k = 0; k < truth.components(); k++) {
                modes[2 * k] = (float) truth.means()[k][0];
                modes[2 * k + 1] = (float) truth.means()[k][1];
            }
            Path png = out.resolve("samples.png");
            Plots.scatter(png, List.of(Plots.Panel.of("generator before training", initial),
                    Plots.Panel.of("teacher: Heun, " + heun.nfePerSample() + " NFE", teacher[0]),
                    Plots.Panel.of("one-step generator: 1 NFE", gen[0]),
                    Plots.Panel.of("exact samples", exact)), modes);
            Npy.write(out.resolve("teacher_samples.npy"), teacher[0]);
            Npy.write(out.resolve("generator_samples.npy"), gen[0]);
            w.println("wrote " + png + ", teacher_samples.npy, generator_samples.npy");
        }
    }

    /** Samples per second of {@code draw}, best of three runs (the first also warms up). */
    private static double rate(long n, Supplier<Tensor> draw) {
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            Tensor t = draw.get();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            if (i < 2) t.close();
        }
        return n / best;
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
