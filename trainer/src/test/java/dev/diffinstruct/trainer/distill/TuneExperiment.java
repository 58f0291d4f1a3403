package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.ModeCoverage;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/** Manual hyper-parameter exploration: -Dtune=true -Dtune.cfg='{"steps":..}'. */
@EnabledIfSystemProperty(named = "tune", matches = "true")
class TuneExperiment {
    @TempDir
    Path dir;

    @Test
    void run() {
        for (String json : System.getProperty("tune.cfg", "{}").split(";;")) {
            DistillConfig cfg = DistillConfig.fromJson(json);
            cfg.out = dir.resolve("run" + System.nanoTime()).toString();
            long t0 = System.nanoTime();
            try (DistillRun di = DistillRun.open(cfg, false, new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() % (cfg.logEvery * 5) == 0) System.out.println("  " + m.toMap());
                }

                @Override
                public void onMessage(String line) {
                    System.out.println("  ! " + line);
                }
            }); Scope s = Scope.open(); Generator g = new Generator(1234)) {
                if (Boolean.getBoolean("jitopt")) dev.diffinstruct.torch.Torch.setGraphExecutorOptimize(true);
                TrainingLoop.Result r = di.run(TrainingListener.none(), new AtomicBoolean());
                double secs = (System.nanoTime() - t0) / 1e9;
                MixtureTeacher t = MixtureTeacher.defaultRing();
                Tensor real = t.sample(g, 4000), real2 = t.sample(g, 4000);
                for (boolean ema : new boolean[] {false, true}) {
                    Tensor x = di.sample(g, 4000, ema);
                    System.out.printf("%s ema=%s: %s | ED %.5f (real-real %.5f) | %.1f s, %.1f steps/s%n", json, ema,
                            ModeCoverage.of(t, x), EnergyDistance.between(x, real), EnergyDistance.between(real, real2), secs, cfg.steps / secs);
                }
            }
        }
    }
}
