package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.StopRequest;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.DistillRun;
import dev.diffinstruct.trainer.distill.StepMetrics;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.ModeCoverage;
import dev.diffinstruct.trainer.run.Resume;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import dev.diffinstruct.trainer.run.World;
import dev.diffinstruct.trainer.viz.Plots;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs a distillation for {@code distill}, {@code refine} and {@code demo}: live progress,
 * snapshots, a final checkpoint on SIGTERM/Ctrl-C, and the summary.
 */
final class DistillRunner {
    /** How a run is shown: --quiet, snapshot interval, whether stdout is a terminal. */
    record Display(boolean quiet, long snapshotEvery, boolean terminal) {}

    private DistillRunner() {}

    /** What a command adds around the loop: before its first step, and after a completed run. */
    interface Hooks {
        default void before(DistillRun di) {}

        /** What to run to continue after a stop. */
        default String resumeAdvice(DistillRun di) {
            return RunReport.RESUME_ADVICE;
        }

        /** After a completed run; by default the mode summary of the built-in mixture teacher. */
        default void after(DistillRun di, PrintWriter out) {
            if (DistillConfig.BUILTIN_MIXTURE.equals(di.config().teacher)) summarizeMixture(di, out);
        }
    }

    static int run(DistillConfig cfg, Resume resume, Display display, PrintWriter out, PrintWriter err) {
        return run(cfg, resume, display, out, err, new Hooks() {});
    }

    static int run(DistillConfig cfg, Resume resume, Display display, PrintWriter out, PrintWriter err, Hooks hooks) {
        return run(cfg, resume, display, out, err, hooks, World.SINGLE);
    }

    /**
     * Runs to the end or to a stop (SIGTERM, Ctrl-C), which writes a checkpoint first. In a world
     * of several ranks, rank 0 shows progress and the summary; the others print only errors.
     */
    static int run(DistillConfig cfg, Resume resume, Display display, PrintWriter out, PrintWriter err, Hooks hooks, World world) {
        if (!world.isMain()) return worker(cfg, resume, world);
        // SIGTERM / Ctrl-C (StopRequest): the loop writes a checkpoint at the next step and returns
        try (DistillRun di = DistillRun.open(cfg, resume, RunListener.messages(err), world)) {
            if (world.size() > 1)
                err.println("data-parallel: " + world.size() + " processes, " + cfg.batch / world.size() + " samples each of --batch "
                        + cfg.batch + " (" + String.join(", ", dev.diffinstruct.torch.ProcessGroup.backends()) + ")");
            if (di.step() < di.config().warmupFake && di.config().steps <= di.config().warmupFake)
                RunReport.message(err, "warning: --steps " + di.config().steps + " ends within the fake score's warm-up (--warmup-fake "
                        + di.config().warmupFake + "): the generator will not be updated; raise --steps or lower --warmup-fake");
            hooks.before(di);
            RunListener<StepMetrics> listener = new RunListener<>(new RunReport(new Progress(out, display.terminal(), display.quiet(),
                    di.step(), di.config().steps), display.terminal(), err), di.config().steps,
                    m -> m.step() <= di.config().warmupFake // the fake score's warm-up: no generator figures yet
                            ? List.of(Map.entry("warm-up/" + di.config().warmupFake, (double) m.step()), Map.entry("loss_f", m.lossFake()))
                            : List.of(Map.entry("loss_g", m.lossGenerator()), Map.entry("loss_f", m.lossFake()), Map.entry("|grad_g|", m.gradNormGenerator())),
                    step -> {
                        if (display.snapshotEvery() > 0 && step % display.snapshotEvery() == 0) snapshot(di, step);
                    });
            long start = di.step();
            TrainingLoop.Result r = di.run(listener, StopRequest.flag());
            if (r.stopped()) {
                listener.report.stopped(r.step(), hooks.resumeAdvice(di));
                return StopRequest.exitCode();
            }
            listener.report.done(start, r.step(), r.wallSeconds(), r.skippedSteps());
            out.println("wrote " + r.out().resolve("generator.pt") + ", generator_ema.pt" + (di.config().emaHalflife > 0 ? "" : " (= generator.pt: --ema-halflife 0 keeps no average)")
                    + ", fake_score.pt, metrics.jsonl, config.json");
            hooks.after(di, out);
            return Main.EXIT_OK;
        }
    }

    /** A rank other than 0: the same steps, quietly; rank 0 reports. */
    private static int worker(DistillConfig cfg, Resume resume, World world) {
        try (DistillRun di = DistillRun.open(cfg, resume, TrainingListener.none(), world)) {
            TrainingLoop.Result r = di.run(TrainingListener.none(), StopRequest.flag());
            return r.stopped() ? StopRequest.exitCode() : Main.EXIT_OK;
        }
    }

    /** Samples of the EMA generator (the generator itself with --ema-halflife 0) from the same latents every time, as OUT/snapshots/step-NNNNNN.png. */
    static Path snapshot(DistillRun di, long step) {
        Path dir = Path.of(di.config().out).resolve("snapshots");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        Path png = dir.resolve(String.format(Locale.ROOT, "step-%07d.png", step));
        try (Scope s = Scope.open(); Generator g = new Generator(di.config().seed ^ 0x5eed)) {
            boolean points = di.dataShape().length == 1 && di.dataShape()[0] == 2;
            Tensor x = di.sample(g, points ? 2000 : 64, true);
            String title = "step " + step + (di.config().emaHalflife > 0 ? " (EMA generator)" : " (generator; no EMA)");
            if (points) Plots.scatter(png, List.of(Plots.Panel.of(title, x)), null);
            else if (x.dim() == 4) Plots.imageGrids(png, List.of(new Plots.Grid(title, x)), 8);
            else return null; // nothing drawable
        }
        return png;
    }

    static void summarizeMixture(DistillRun di, PrintWriter out) {
        MixtureTeacher t = MixtureTeacher.defaultRing();
        try (Scope s = Scope.open(); Generator g = new Generator(di.config().seed + 1)) {
            Tensor real = t.sample(g, 4000), real2 = t.sample(g, 4000);
            double base = EnergyDistance.between(real, real2);
            for (boolean ema : new boolean[] {false, true}) {
                Tensor x = di.sample(g, 4000, ema);
                out.printf("%s: %s; energy distance to the teacher %.5f (two true sample sets: %.5f)%n",
                        ema ? "generator_ema.pt" : "generator.pt    ", ModeCoverage.of(t, x), EnergyDistance.between(x, real), base);
            }
        }
    }
}
