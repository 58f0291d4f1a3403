package dev.diffinstruct.trainer.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.TrainingListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --precision bf16: the step's networks run under autocast, and everything that is kept stays float32. */
class PrecisionTest {
    @TempDir
    Path dir;

    private float[][] run(String precision, Path out) {
        DistillConfig c = ResumeTest.small(out);
        c.steps = 40;
        c.precision = precision;
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none())) {
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            return ResumeTest.fingerprint(di);
        }
    }

    @Test
    void bf16TrainsCloseToFp32AndKeepsFloat32State() throws Exception {
        float[][] full = run("fp32", dir.resolve("fp32"));
        Path out = dir.resolve("bf16");
        float[][] reduced = run("bf16", out);
        double maxDiff = 0, scale = 0;
        for (int i = 0; i < full.length; i++)
            for (int j = 0; j < full[i].length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(full[i][j] - reduced[i][j]));
                scale = Math.max(scale, Math.abs(full[i][j]));
            }
        assertFalse(Arrays.deepEquals(full, reduced), "bf16 computed exactly what fp32 did: autocast did not reach the networks");
        // bfloat16 keeps 8 bits of mantissa (~0.4% per rounding); 40 steps of a small MLP stay within a few percent
        assertTrue(maxDiff < 0.05 * Math.max(1, scale), "bf16 drifted from fp32 by " + maxDiff + " (outputs up to " + scale + ")");
        for (float[] f : reduced) for (float v : f) assertTrue(Float.isFinite(v));

        assertEquals("bf16", com.google.gson.JsonParser.parseString(Files.readString(out.resolve("config.json")))
                .getAsJsonObject().get("precision").getAsString());
        CheckpointStore.Checkpoint c = CheckpointStore.read(new CheckpointStore(out.resolve("checkpoints")).list().getLast());
        for (String part : new String[] {"generator.pt", "generator_ema.pt", "fake.pt"})
            try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(c.part(part), Device.CPU)) {
                for (Tensor p : m.parameters()) assertEquals(DType.FLOAT32, p.dtype(), part);
            }
    }

    @Test
    void fp16AndUnknownPrecisionsAreRefusedInOneLine() {
        for (String p : new String[] {"fp16", "int8"}) {
            DistillConfig c = ResumeTest.small(dir.resolve(p));
            c.precision = p;
            InvalidInputException e = assertThrows(InvalidInputException.class, c::validate);
            assertEquals(1, e.getMessage().lines().count());
            assertTrue(e.getMessage().contains("--precision"), e.getMessage());
        }
    }

    @Test
    void tf32AndTheAutotunerAreTheRunsSettingsChangeNothingOnTheCpuAndMayChangeOnResume() {
        Path out = dir.resolve("tf32");
        DistillConfig on = ResumeTest.small(out);
        on.steps = 30;
        on.tf32 = true;
        on.cudnnBenchmark = false;
        float[][] withTf32;
        try (DistillRun di = DistillRun.open(on, false, TrainingListener.none())) {
            assertTrue(Torch.tf32Matmul() && Torch.tf32Convolutions(), "the run did not turn TF32 on");
            assertFalse(Torch.setCudnnBenchmark(false), "the run did not turn the autotuner off");
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            withTf32 = ResumeTest.fingerprint(di);
        }
        DistillConfig off = ResumeTest.small(dir.resolve("no-tf32"));
        off.steps = 30;
        try (DistillRun di = DistillRun.open(off, false, TrainingListener.none())) {
            assertFalse(Torch.tf32Matmul() || Torch.tf32Convolutions(), "the previous run's TF32 outlived it");
            assertTrue(Torch.setCudnnBenchmark(true), "the run did not turn the autotuner (back) on");
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            // TF32 and the autotuner are flags for cuBLAS and cuDNN: the CPU's arithmetic must not move by a bit
            assertTrue(Arrays.deepEquals(withTf32, ResumeTest.fingerprint(di)), "TF32 changed the CPU's results");
        }
        // a resume may turn it off (a speed/precision switch, not state), and says nothing about it
        List<String> messages = new ArrayList<>();
        DistillConfig resumed = ResumeTest.small(out);
        resumed.steps = 40;
        resumed.tf32 = false;
        resumed.given = Set.of("tf32", "steps");
        try (DistillRun di = DistillRun.open(resumed, true, ResumeTest.collecting(messages))) {
            assertFalse(di.config().tf32);
            assertFalse(Torch.tf32Matmul());
        }
        assertTrue(messages.stream().noneMatch(m -> m.contains("tf32")), messages.toString());
    }
}
