package dev.diffinstruct.trainer.run;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.DistillRun;
import dev.diffinstruct.trainer.distill.StepMetrics;
import dev.diffinstruct.trainer.teacher.TeacherConfig;
import dev.diffinstruct.trainer.teacher.TeacherMetrics;
import dev.diffinstruct.trainer.teacher.TeacherRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The checkpoints committed under assets/fashion-mnist were written before the trainers shared
 * one run loop (and before --objective: their config says "weighting": "SIGMA2"). They must still
 * resume, and continue exactly: two steps in one session give the same weights as one step, a
 * second resume and one more.
 */
class CommittedCheckpointsTest {
    static final Path ASSETS = Path.of(System.getProperty("repo.root", "..")).resolve("assets/fashion-mnist").toAbsolutePath();

    @TempDir
    Path dir;

    @Test
    void distillCheckpointFromBeforeTheRedesignResumesExactly() throws IOException {
        Path ckpt = ASSETS.resolve("distill-run/ckpt-000004139.zip");
        float[] twoSteps, oneAndOne;
        List<StepMetrics> logged = new ArrayList<>();
        List<String> messages = new ArrayList<>();
        Path a = distillRunFrom(ckpt, "a"), b = distillRunFrom(ckpt, "b");
        try (DistillRun r = DistillRun.open(request(a, 4141), true, listener(logged, messages))) {
            assertEquals(4139, r.step(), messages.toString());
            assertTrue(r.run(listener(logged, messages), new AtomicBoolean()).complete());
            twoSteps = weights(r.generator());
        }
        assertTrue(messages.contains("resuming from checkpoints/ckpt-000004139.zip at step 4139 of 4141"), messages.toString());
        StepMetrics last = logged.get(logged.size() - 1);
        assertEquals(4141, last.step());
        // the committed run logged loss_f 506-528 and loss_g ~6.2-6.3 around step 4100 (batch 32: noisy, so a wide band)
        assertTrue(last.lossFake() > 100 && last.lossFake() < 2500, "loss_f " + last.lossFake());
        assertTrue(Double.isFinite(last.lossGenerator()) && Math.abs(last.lossGenerator()) < 100, "loss_g " + last.lossGenerator());
        try (DistillRun r = DistillRun.open(request(b, 4140), true, TrainingListener.none())) {
            assertTrue(r.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        try (DistillRun r = DistillRun.open(request(b, 4141), true, TrainingListener.none())) {
            assertEquals(4140, r.step());
            assertTrue(r.run(TrainingListener.none(), new AtomicBoolean()).complete());
            oneAndOne = weights(r.generator());
        }
        // same process, same op sequence: bit-identical by construction, on any CPU
        assertArrayEquals(twoSteps, oneAndOne);
        JsonObject cfg = JsonParser.parseString(Files.readString(a.resolve("config.json"))).getAsJsonObject();
        assertEquals("IKL", cfg.get("objective").getAsString(), "the old 'weighting' reads as the IKL objective");
        assertEquals("SIGMA2", cfg.get("weighting").getAsString());
    }

    @Test
    void teacherCheckpointFromBeforeTheRedesignResumesExactly() {
        Path ckpt = ASSETS.resolve("teacher-run/ckpt-000005000.zip");
        List<TeacherMetrics> logged = new ArrayList<>();
        List<String> messages = new ArrayList<>();
        float[] twoSteps, oneAndOne;
        try (TeacherRun r = TeacherRun.open(teacherRequest(copy(ckpt, "ta"), 5002), true, listener(logged, messages))) {
            assertEquals(5000, r.step(), messages.toString());
            assertTrue(r.run(listener(logged, messages), new AtomicBoolean()).complete());
            twoSteps = weights(r.model());
        }
        TeacherMetrics last = logged.get(logged.size() - 1);
        assertEquals(5002, last.step());
        // the committed run ended at a loss of about 201 (per image, summed over pixels)
        assertTrue(last.loss() > 100 && last.loss() < 400, "loss " + last.loss());
        Path b = copy(ckpt, "tb");
        try (TeacherRun r = TeacherRun.open(teacherRequest(b, 5001), true, TrainingListener.none())) {
            assertTrue(r.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        try (TeacherRun r = TeacherRun.open(teacherRequest(b, 5002), true, TrainingListener.none())) {
            assertEquals(5001, r.step());
            assertTrue(r.run(TrainingListener.none(), new AtomicBoolean()).complete());
            oneAndOne = weights(r.model());
        }
        assertArrayEquals(twoSteps, oneAndOne);
    }

    /**
     * A run folder holding the committed distill checkpoint. Its config names the teacher by a path
     * relative to the repository root, and the tests run in the module folder: that one field is
     * made absolute; every other part is copied byte for byte.
     */
    private Path distillRunFrom(Path ckpt, String name) throws IOException {
        Path out = dir.resolve(name);
        Path target = out.resolve("checkpoints").resolve(ckpt.getFileName());
        Files.createDirectories(target.getParent());
        try (ZipFile in = new ZipFile(ckpt.toFile()); OutputStream os = Files.newOutputStream(target); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (ZipEntry e : java.util.Collections.list(in.entries())) {
                byte[] data = in.getInputStream(e).readAllBytes();
                if (e.getName().equals("config.json")) {
                    JsonObject c = JsonParser.parseString(new String(data, StandardCharsets.UTF_8)).getAsJsonObject();
                    c.addProperty("teacher", ASSETS.resolve("teacher.pt").toString());
                    data = c.toString().getBytes(StandardCharsets.UTF_8);
                }
                zip.putNextEntry(new ZipEntry(e.getName()));
                zip.write(data);
                zip.closeEntry();
            }
        }
        return out;
    }

    private Path copy(Path ckpt, String name) {
        Path out = dir.resolve(name);
        try {
            Files.createDirectories(out.resolve("checkpoints"));
            Files.copy(ckpt, out.resolve("checkpoints").resolve(ckpt.getFileName()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    private static DistillConfig request(Path out, long steps) {
        DistillConfig c = new DistillConfig();
        c.out = out.toString();
        c.steps = steps;
        c.logEvery = 1;
        c.ckptEvery = 1000;
        c.given = java.util.Set.of("steps", "out");
        return c;
    }

    private static TeacherConfig teacherRequest(Path out, long steps) {
        TeacherConfig c = new TeacherConfig();
        c.model = "unused on resume";
        c.out = out.toString();
        c.steps = steps;
        c.logEvery = 1;
        c.given = java.util.Set.of("steps", "out");
        return c;
    }

    private static <M> TrainingListener<M> listener(List<M> logged, List<String> messages) {
        return new TrainingListener<>() {
            @Override
            public void onStep(M m) {
                logged.add(m);
            }

            @Override
            public void onMessage(String line) {
                messages.add(line);
            }
        };
    }

    private static float[] weights(ScriptModule m) {
        try (Scope s = Scope.open()) {
            List<float[]> parts = new ArrayList<>();
            int n = 0;
            for (Tensor p : m.parameters()) {
                float[] f = p.toFloatArray();
                parts.add(f);
                n += f.length;
            }
            float[] all = new float[n];
            int at = 0;
            for (float[] f : parts) {
                System.arraycopy(f, 0, all, at, f.length);
                at += f.length;
            }
            assertTrue(n > 0 && !Arrays.equals(all, new float[n]));
            return all;
        }
    }
}
