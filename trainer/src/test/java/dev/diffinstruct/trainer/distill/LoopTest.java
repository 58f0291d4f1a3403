package dev.diffinstruct.trainer.distill;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.run.TrainingListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

class LoopTest {
    @TempDir
    Path dir;

    @Test
    void nativeMemoryStaysFlatAcrossSteps() {
        DistillConfig c = ResumeTest.small(dir);
        c.warmupFake = 2;
        c.ckptEvery = 1000;
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none())) {
            di.run(TrainingListener.none(), new AtomicBoolean()); // warms up, to step 200
            long[] before = Torch.liveHandles();
            for (int i = 0; i < 50; i++) di.trainStep(i % 10 == 0, TrainingListener.none());
            long[] after = Torch.liveHandles();
            assertEquals(before[0], after[0], "live tensors");
            assertEquals(before[1], after[1], "live modules");
        }
    }

    @Test
    void sameSeedSameRunAndMetricsAreReported() throws Exception {
        List<StepMetrics> seen = new ArrayList<>();
        List<Long> ckpts = new ArrayList<>();
        float[][] a;
        DistillConfig c = ResumeTest.small(dir.resolve("a"));
        c.steps = 60;
        c.objective = GeneratorObjective.Kind.SID;
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none())) {
            di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    seen.add(m);
                }

                @Override
                public void onCheckpoint(long step, Path file) {
                    ckpts.add(step);
                }
            }, new AtomicBoolean());
            a = ResumeTest.fingerprint(di);
        }
        c.out = dir.resolve("b").toString();
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none())) {
            di.run(TrainingListener.none(), new AtomicBoolean());
            ResumeTest.assertBitIdentical(a, ResumeTest.fingerprint(di));
        }
        assertEquals(List.of(50L, 60L), ckpts);
        assertEquals(List.of(1L, 10L, 20L, 30L, 40L, 50L, 60L), seen.stream().map(StepMetrics::step).toList());
        StepMetrics warm = seen.get(0), last = seen.get(seen.size() - 1);
        assertTrue(Double.isNaN(warm.lossGenerator()) && Double.isFinite(warm.lossFake()), "step 1 is fake-score warm-up");
        assertTrue(Double.isFinite(last.lossGenerator()) && last.gradNormGenerator() > 0 && last.sigmaMin() <= last.sigmaMean());
        assertTrue(last.stepsPerSecond() > 0 && last.wallSeconds() > 0);
        List<String> lines = Files.readAllLines(dir.resolve("a/metrics.jsonl"));
        JsonObject j = JsonParser.parseString(lines.get(lines.size() - 1)).getAsJsonObject();
        for (String k : new String[] {"step", "loss_g", "loss_f", "grad_norm_g", "grad_norm_f", "sigma_mean", "sigma_min", "sigma_max",
                "skipped", "steps_per_s", "wall_s"})
            assertTrue(j.has(k), k + " in " + j);
        assertEquals("SID", JsonParser.parseString(Files.readString(dir.resolve("a/config.json"))).getAsJsonObject().get("objective").getAsString());
    }
}
