package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A run of 200 steps and runs interrupted (crash, cooperative stop, failed checkpoint write) and
 * resumed to 200 steps end with bit-identical networks on CPU.
 */
class ResumeTest {
    @TempDir
    Path dir;


    static DistillConfig small(Path out) {
        DistillConfig c = new DistillConfig();
        c.out = out.toString();
        c.steps = 200;
        c.batch = 64;
        c.hidden = 32;
        c.layers = 2;
        c.latentShape = new long[] {2};
        c.lrG = 1e-3;
        c.lrF = 2e-3;
        c.fakeSteps = 2;
        c.warmupFake = 20;
        c.emaHalflife = 2000;
        c.gradClip = 10;
        c.logEvery = 10;
        c.ckptEvery = 50;
        c.seed = 42;
        return c;
    }

    /** A listener that keeps the run's messages in {@code into}. */
    static TrainingListener collecting(List<String> into) {
        return new TrainingListener<StepMetrics>() {
            @Override
            public void onMessage(String line) {
                into.add(line);
            }
        };
    }

    /** Generator, EMA and fake-score outputs on fixed inputs, as raw floats. */
    static float[][] fingerprint(DistillRun di) {
        return CudaChecks.fingerprint(di, dev.diffinstruct.torch.Device.CPU);
    }

    static float[][] straightRun(Path out) {
        return straightRun(out, false);
    }

    /** {@code deviceGuard}: the non-finite guard of CUDA runs (on the device, no host sync), here on the CPU. */
    static float[][] straightRun(Path out, boolean deviceGuard) {
        try (DistillRun di = DistillRun.open(small(out), false, TrainingListener.none())) {
            di.useDeviceGuard(deviceGuard);
            TrainingLoop.Result r = di.run(TrainingListener.none(), new AtomicBoolean());
            assertTrue(r.complete());
            assertEquals(200, r.step());
            return fingerprint(di);
        }
    }

    static float[][] resumeToEnd(Path out, long expectFrom) {
        return resumeToEnd(out, expectFrom, false);
    }

    static float[][] resumeToEnd(Path out, long expectFrom, boolean deviceGuard) {
        List<String> messages = new ArrayList<>();
        TrainingListener l = collecting(messages);
        try (DistillRun di = DistillRun.open(small(out), true, l)) {
            di.useDeviceGuard(deviceGuard);
            assertEquals(expectFrom, di.step(), messages.toString());
            TrainingLoop.Result r = di.run(l, new AtomicBoolean());
            assertTrue(r.complete());
            return fingerprint(di);
        }
    }

    /**
     * Bit identity holds by construction: both runs are in this process (same threads, same CPU
     * kernels), execute the same op sequence on the same shapes (graph executor optimisation off),
     * and a checkpoint restores parameters, optimizer state and RNG states bit for bit.
     */
    static void assertBitIdentical(float[][] a, float[][] b) {
        String[] names = {"generator", "EMA generator", "fake score"};
        for (int i = 0; i < a.length; i++) assertArrayEquals(a[i], b[i], 0f, names[i] + " outputs differ");
        for (int i = 0; i < a.length; i++)
            for (int j = 0; j < a[i].length; j++)
                assertEquals(Float.floatToRawIntBits(a[i][j]), Float.floatToRawIntBits(b[i][j]), names[i] + " bits differ at " + j);
    }

    @Test
    void crashAndResumeIsBitIdentical() throws IOException {
        float[][] reference = straightRun(dir.resolve("straight"));
        assertFalse(Arrays.equals(reference[0], reference[1]), "EMA should differ from the raw generator");

        // a crash at step 130: no checkpoint after 100, and the process state is gone
        Path out = dir.resolve("crashed");
        try (DistillRun di = DistillRun.open(small(out), false, TrainingListener.none())) {
            RuntimeException crash = assertThrows(RuntimeException.class, () -> di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() == 130) throw new IllegalStateException("simulated crash");
                }
            }, new AtomicBoolean()));
            assertEquals("simulated crash", crash.getMessage());
        }
        assertEquals(List.of("ckpt-000000050.zip", "ckpt-000000100.zip"), names(out.resolve("checkpoints")));
        for (String f : new String[] {"generator.pt", "generator_ema.pt", "fake_score.pt"})
            assertTrue(Files.exists(out.resolve(f)), "every checkpoint also writes " + f);
        float[][] resumed = resumeToEnd(out, 100);
        assertBitIdentical(reference, resumed);

        // metrics.jsonl of the resumed run has each logged step once, in order
        List<Long> steps = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl")))
            steps.add(com.google.gson.JsonParser.parseString(line).getAsJsonObject().get("step").getAsLong());
        List<Long> expected = new ArrayList<>(List.of(1L));
        for (long s = 10; s <= 200; s += 10) expected.add(s);
        assertEquals(expected, steps);
        for (String f : new String[] {"generator.pt", "generator_ema.pt", "fake_score.pt", "config.json", "metrics.jsonl"})
            assertTrue(Files.exists(out.resolve(f)), f);
    }

    @Test
    void stopAndResumeIsBitIdenticalWithTheDeviceGuard() {
        // the guard of CUDA runs keeps Adam's step counts on the device: a checkpoint must hold them
        float[][] reference = straightRun(dir.resolve("straight-device"), true);
        Path out = dir.resolve("stopped-device");
        AtomicBoolean stop = new AtomicBoolean();
        try (DistillRun di = DistillRun.open(small(out), false, TrainingListener.none())) {
            di.useDeviceGuard(true);
            assertTrue(di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() == 70) stop.set(true);
                }
            }, stop).stopped());
        }
        assertBitIdentical(reference, resumeToEnd(out, 70, true));
        // and it trains as the host guard does, to rounding (only the last product of Adam's update differs)
        float[][] host = straightRun(dir.resolve("straight-host"));
        for (int i = 0; i < host.length; i++)
            for (int j = 0; j < host[i].length; j++)
                assertEquals(host[i][j], reference[i][j], 2e-3 * Math.max(1, Math.abs(host[i][j])), "output " + i + "[" + j + "]");
    }

    @Test
    void cooperativeStopThenResumeIsBitIdentical() {
        float[][] reference = straightRun(dir.resolve("straight"));
        Path out = dir.resolve("stopped");
        AtomicBoolean stop = new AtomicBoolean();
        try (DistillRun di = DistillRun.open(small(out), false, TrainingListener.none())) {
            TrainingLoop.Result r = di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() == 70) stop.set(true);
                }
            }, stop);
            assertTrue(r.stopped());
            assertEquals(70, r.step());
        }
        assertBitIdentical(reference, resumeToEnd(out, 70));
    }

    @Test
    void failedCheckpointWriteKeepsThePreviousOne() throws IOException {
        float[][] reference = straightRun(dir.resolve("straight"));
        Path out = dir.resolve("faulty");
        try (DistillRun di = DistillRun.open(small(out), false, TrainingListener.none())) {
            di.checkpoints().setWriteHook(part -> {
                if (di.step() == 100 && part.equals("fake.pt")) throw new IOException("disk full (simulated)");
            });
            RuntimeException e = assertThrows(RuntimeException.class, () -> di.run(TrainingListener.none(), new AtomicBoolean()));
            assertTrue(e.getMessage().contains("disk full"), e.getMessage());
        }
        Path ckpts = out.resolve("checkpoints");
        assertEquals(List.of("ckpt-000000050.zip"), names(ckpts), "no partial checkpoint under a checkpoint's name");
        try (var files = Files.list(ckpts)) {
            assertEquals(1, files.count(), "the temporary file was removed");
        }
        // a process killed mid-write leaves its temporary file; a disk fault may even truncate a checkpoint
        Files.write(ckpts.resolve(".ckpt-000000100.zip123.tmp"), new byte[] {1, 2, 3});
        Files.write(ckpts.resolve("ckpt-000000100.zip"), Arrays.copyOf(Files.readAllBytes(ckpts.resolve("ckpt-000000050.zip")), 1000));
        List<String> warnings = new ArrayList<>();
        var latest = new CheckpointStore(ckpts).latest(warnings::add);
        assertEquals(50, latest.orElseThrow().step());
        assertEquals(1, warnings.size(), warnings.toString());

        float[][] resumed = resumeToEnd(out, 50);
        assertBitIdentical(reference, resumed);
        assertFalse(names(ckpts).contains(".ckpt-000000100.zip123.tmp"));
    }

    static List<String> names(Path dir) {
        List<String> out = new ArrayList<>();
        try (var s = Files.list(dir)) {
            s.forEach(p -> out.add(p.getFileName().toString()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        out.sort(null);
        return out;
    }

    @Test
    void anExplicitLearningRateChangesOnResumeAndStaysChanged() {
        Path out = dir.resolve("lr");
        DistillConfig first = small(out);
        first.steps = 50;
        try (DistillRun di = DistillRun.open(first, false, TrainingListener.none())) {
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        List<String> messages = new ArrayList<>();
        TrainingListener l = collecting(messages);
        DistillConfig lower = small(out);
        lower.steps = 100;
        lower.lrG = 1e-4;
        lower.given = java.util.Set.of("lrG"); // as --lr-g 1e-4 on the command line
        float[][] changed;
        try (DistillRun di = DistillRun.open(lower, true, l)) {
            assertEquals(1e-4, di.config().lrG);
            assertEquals(2e-3, di.config().lrF, "not given: the checkpoint's");
            assertTrue(messages.stream().anyMatch(m -> m.contains("generator learning rate 0.001 -> 1.0E-4")), messages.toString());
            assertTrue(di.run(l, new AtomicBoolean()).complete());
            changed = fingerprint(di);
        }
        // the same 100 steps without the change differ: the new rate was really used
        Path same = dir.resolve("same");
        DistillConfig a = small(same);
        a.steps = 50;
        try (DistillRun di = DistillRun.open(a, false, TrainingListener.none())) {
            di.run(TrainingListener.none(), new AtomicBoolean());
        }
        DistillConfig b = small(same);
        b.steps = 100;
        b.lrG = 1e-4; // not marked as given: ignored, the checkpoint's 1e-3 is kept
        try (DistillRun di = DistillRun.open(b, true, TrainingListener.none())) {
            assertEquals(1e-3, di.config().lrG);
            di.run(TrainingListener.none(), new AtomicBoolean());
            assertFalse(Arrays.equals(changed[0], fingerprint(di)[0]), "the lowered rate must change the trajectory");
        }
        // a later resume without the option keeps the lowered rate
        DistillConfig again = small(out);
        again.steps = 120;
        try (DistillRun di = DistillRun.open(again, true, TrainingListener.none())) {
            assertEquals(1e-4, di.config().lrG);
        }
    }
}
