package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.distill.DiffInstruct;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.StepMetrics;
import dev.diffinstruct.trainer.distill.TeacherAdapter;
import dev.diffinstruct.trainer.distill.TrainingListener;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.ModeCoverage;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Runs a distillation for {@code distill} and {@code refine}: progress lines, SIGTERM, summary. */
final class DistillRunner {
    private DistillRunner() {}

    static int run(DistillConfig cfg, boolean resume, PrintWriter out, PrintWriter err) {
        TrainingListener listener = new TrainingListener() {
            @Override
            public void onStep(StepMetrics m) {
                out.printf("step %d/%d  loss_g %s  loss_f %s  |grad_g| %s  |grad_f| %s  %.1f steps/s  %.0f s%s%n", m.step(), cfg.steps,
                        fmt(m.lossGenerator()), fmt(m.lossFake()), fmt(m.gradNormGenerator()), fmt(m.gradNormFake()),
                        m.stepsPerSecond(), m.wallSeconds(), m.skippedSteps() > 0 ? "  skipped " + m.skippedSteps() : "");
                out.flush();
            }

            @Override
            public void onCheckpoint(long step, Path file) {
                out.println("checkpoint " + file);
                out.flush();
            }

            @Override
            public void onMessage(String line) {
                err.println(line);
                err.flush();
            }
        };
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        // SIGTERM / Ctrl-C: ask the loop to write a checkpoint and return, and wait for it
        Thread hook = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "distill-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try (DiffInstruct di = DiffInstruct.open(cfg, resume, TeacherAdapter::forKind, listener)) {
            DiffInstruct.Result r = di.run(listener, stop);
            if (r.stopped()) {
                out.printf("stopped at step %d; continue with the same command and --resume%n", r.step());
                return Main.EXIT_FAILURE;
            }
            out.printf("done: %d steps in %.1f s (%d skipped)%n", r.step(), r.wallSeconds(), r.skippedSteps());
            out.println("wrote " + r.out().resolve("generator.pt") + ", generator_ema.pt, fake_score.pt, metrics.jsonl, config.json");
            if (DistillConfig.BUILTIN_MIXTURE.equals(di.config().teacher)) summarizeMixture(di, out);
            return Main.EXIT_OK;
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // the JVM is already shutting down: the hook is running
            }
        }
    }

    private static void summarizeMixture(DiffInstruct di, PrintWriter out) {
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

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.4g", v);
    }
}
