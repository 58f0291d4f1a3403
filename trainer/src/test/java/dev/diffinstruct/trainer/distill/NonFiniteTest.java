package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/** A teacher that returns NaN: each policy of --on-nonfinite, and no checkpoint ever holds a non-finite value. */
class NonFiniteTest {
    @TempDir
    Path dir;

    /**
     * D(x, sigma) = x / (1 + sigma^2), NaN for the samples whose sigma is below {@code below} or
     * above {@code above} (finite at the 0.5 and 2.0 of the start-up check, which refuses a teacher
     * that is NaN there).
     */
    private Path teacher(double below, double above) {
        Path f = dir.resolve("nan-" + below + "-" + above + ".pt");
        try (ScriptModule m = ScriptModule.create("NanTeacher")) {
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                        s = sigma.reshape(-1, 1)
                        d = x / (1.0 + s * s)
                        return torch.where((s < %s) | (s > %s), d * float('nan'), d)
                    """.formatted(below, above));
            m.save(f);
        }
        return f;
    }

    private DistillConfig config(Path teacher, String out) {
        DistillConfig c = ResumeTest.small(dir.resolve(out));
        c.teacher = teacher.toString();
        c.teacherKind = "edm";
        c.generator = DistillConfig.BUILTIN_MLP;
        c.fake = DistillConfig.BUILTIN_MLP;
        c.dataShape = new long[] {2};
        c.steps = 60;
        c.ckptEvery = 10;
        return c;
    }

    private static List<String> messages(DistillConfig c, boolean expectStop) {
        return messages(c, expectStop, false, new long[1]);
    }

    /** The run's messages, with the device-side guard (CUDA's, here on the CPU) when {@code deviceGuard}; its skip count in {@code skipped[0]}. */
    private static List<String> messages(DistillConfig c, boolean expectStop, boolean deviceGuard, long[] skipped) {
        List<String> messages = new ArrayList<>();
        TrainingListener l = ResumeTest.collecting(messages);
        try (DistillRun di = DistillRun.open(c, false, l)) {
            di.useDeviceGuard(deviceGuard);
            if (expectStop) {
                DiffInstruct.NonFiniteException e = assertThrows(DiffInstruct.NonFiniteException.class, () -> di.run(l, new AtomicBoolean()));
                messages.add("thrown: " + e.getMessage());
            } else {
                TrainingLoop.Result r = di.run(l, new AtomicBoolean());
                assertTrue(r.complete());
                skipped[0] = r.skippedSteps();
            }
        }
        return messages;
    }

    private static void assertCheckpointsFinite(Path out) throws Exception {
        List<Path> files = new CheckpointStore(out.resolve("checkpoints")).list();
        for (Path f : files) {
            CheckpointStore.Checkpoint c = CheckpointStore.read(f);
            for (String part : new String[] {"generator.pt", "generator_ema.pt", "fake.pt"})
                try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(c.part(part), dev.diffinstruct.torch.Device.CPU)) {
                    for (Tensor p : m.parameters()) assertTrue(p.allFinite(), f + " " + part);
                }
        }
    }

    @Test
    void stopEndsTheRunAtTheFirstNonFiniteStep() throws Exception {
        DistillConfig c = config(teacher(0.3, 2.5), "stop"); // NaN in almost every batch
        c.onNonfinite = "stop";
        List<String> m = messages(c, true);
        String last = m.get(m.size() - 1);
        assertTrue(last.contains("step " + (c.warmupFake + 1) + ": non-finite generator gradient") && last.contains("--on-nonfinite stop"), last);
        assertCheckpointsFinite(Path.of(c.out));
        assertEquals(List.of(10L, 20L), new CheckpointStore(Path.of(c.out).resolve("checkpoints")).list().stream()
                .map(CheckpointStore::stepOf).toList(), "the warm-up's checkpoints, none after");
    }

    @Test
    void skipStopsAfterMaxNonfiniteInARow() throws Exception {
        DistillConfig c = config(teacher(0.3, 2.5), "skip-max");
        c.maxNonfinite = 3;
        List<String> m = messages(c, true);
        assertEquals(2, m.stream().filter(s -> s.contains("update skipped")).count(), m.toString());
        assertTrue(m.get(m.size() - 1).contains("3 in a row: stopped (--max-nonfinite 3)"), m.toString());
        assertCheckpointsFinite(Path.of(c.out));
    }

    @Test
    void skipGoesOnPastOccasionalNonFiniteSteps() throws Exception {
        DistillConfig c = config(teacher(0, 6.0), "skip"); // NaN in about a third of the batches
        List<String> m = messages(c, false);
        long skips = m.stream().filter(s -> s.contains("non-finite generator gradient")).count();
        assertTrue(skips > 3 && skips < 35, skips + " skipped: " + m);
        assertCheckpointsFinite(Path.of(c.out));
        assertTrue(Files.exists(Path.of(c.out).resolve("generator.pt")));
    }

    // ---- the device-side guard (CUDA's: no host sync per step), run here on the CPU ----------------

    @Test
    void theDeviceGuardSkipsTheSameUpdatesAndReportsThemAtLoggingSteps() throws Exception {
        // which batches hold a NaN depends only on the sigma draws, not on the parameters: both
        // guards must skip the same updates
        long[] host = new long[1], device = new long[1];
        messages(config(teacher(0, 6.0), "skip-host"), false, false, host);
        DistillConfig c = config(teacher(0, 6.0), "skip-device");
        List<String> m = messages(c, false, true, device);
        assertTrue(host[0] > 3, "the teacher gave too few NaNs to test: " + host[0]);
        assertEquals(host[0], device[0]);
        long reported = 0;
        for (String line : m) {
            var match = java.util.regex.Pattern.compile("^steps? (\\d+)(?:-(\\d+))?: (\\d+) non-finite generator gradients?; updates? skipped").matcher(line);
            if (!match.find()) continue;
            long last = Long.parseLong(match.group(2) != null ? match.group(2) : match.group(1));
            assertTrue(last % c.logEvery == 0 || last == c.steps || last % c.ckptEvery == 0, "reported at step " + last + ", not a logging step: " + line);
            reported += Long.parseLong(match.group(3));
        }
        assertEquals(device[0], reported, m.toString());
        assertCheckpointsFinite(Path.of(c.out));
    }

    @Test
    void theDeviceGuardStopsAtTheNextLoggingStep() throws Exception {
        DistillConfig c = config(teacher(0.3, 2.5), "stop-device"); // NaN in almost every batch
        c.onNonfinite = "stop";
        List<String> m = messages(c, true, true, new long[1]);
        String last = m.get(m.size() - 1);
        assertTrue(last.contains("steps " + (c.warmupFake + 1) + "-" + (c.warmupFake + c.logEvery) + ": ")
                && last.contains("non-finite generator gradients, stopped (--on-nonfinite stop)"), last);
        assertEquals(List.of(10L, 20L), new CheckpointStore(Path.of(c.out).resolve("checkpoints")).list().stream()
                .map(CheckpointStore::stepOf).toList(), "the warm-up's checkpoints, none after");

        DistillConfig max = config(teacher(0.3, 2.5), "max-device");
        max.maxNonfinite = 3;
        m = messages(max, true, true, new long[1]);
        assertTrue(m.get(m.size() - 1).matches(".*\\b(\\d+) in a row: stopped \\(--max-nonfinite 3\\).*"), m.toString());
        assertCheckpointsFinite(Path.of(max.out));
    }
}
