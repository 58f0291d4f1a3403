package dev.diffinstruct.trainer.teacher;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The teacher trainer on a tiny dataset (40 random 8x8 images) and a tiny EDM-preconditioned conv
 * net built in Java: interrupted runs resume bit-exactly, outputs carry their attributes,
 * class-conditional training takes the dataset's labels, bad inputs fail early with one clear
 * message, non-finite steps are skipped.
 */
class TeacherRunTest {
    @TempDir
    Path dir;

    /**
     * D(x, sigma[, class_labels]) = c_skip x + c_out conv(dropout(silu(conv(c_in x) + c_noise w_t [+ W_y y]))),
     * with always-on dropout (so the default generator's state matters) and {@code nanAbove}: the
     * output is NaN when a batch holds a sigma above it (for the non-finite guard).
     */
    static Path tinyDenoiser(Path file, int channels, int classes, double nanAbove) {
        try (ScriptModule m = ScriptModule.create("TinyDenoiser"); Scope s = Scope.open(); Generator g = new Generator(5)) {
            m.registerParameter("w1", Tensor.randn(g, 8, channels, 3, 3).mul(0.2));
            m.registerParameter("b1", Tensor.zeros(8));
            m.registerParameter("wt", Tensor.randn(g, 8).mul(0.5));
            m.registerParameter("w2", Tensor.randn(g, channels, 8, 3, 3).mul(0.1));
            m.registerParameter("b2", Tensor.zeros(channels));
            if (classes > 0) m.registerParameter("wy", Tensor.randn(g, 8, classes).mul(0.5));
            m.setAttribute("sigma_data", 0.5);
            m.setAttribute("nan_above", nanAbove);
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor%s) -> Tensor:
                        s = sigma.to(x.dtype).reshape(-1, 1, 1, 1)
                        sd = self.sigma_data
                        c_skip = sd * sd / (s * s + sd * sd)
                        c_out = s * sd / torch.sqrt(s * s + sd * sd)
                        c_in = 1.0 / torch.sqrt(s * s + sd * sd)
                        h = torch.conv2d(x * c_in, self.w1, self.b1, [1, 1], [1, 1])
                        h = h + torch.log(s) / 4.0 * self.wt.reshape(1, -1, 1, 1)
                    %s    h = torch.dropout(torch.silu(h), 0.1, True)
                        out = c_skip * x + c_out * torch.conv2d(h, self.w2, self.b2, [1, 1], [1, 1])
                        if bool(sigma.max() > self.nan_above):
                            out = out * float("nan")
                        return out
                    """.formatted(classes > 0 ? ", class_labels: Tensor" : "",
                    classes > 0 ? "    h = h + class_labels.matmul(self.wy.t()).reshape(x.size(0), -1, 1, 1)\n" : ""));
            m.requiresGrad(true);
            m.save(file);
        }
        return file;
    }

    static Path tinyDenoiser(Path file) {
        return tinyDenoiser(file, 1, 0, 1e30);
    }

    /** 40 random images [1, 8, 8] in [-1, 1]. */
    static Path tinyData(Path file) {
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Npy.write(file, Tensor.rand(g, 40, 1, 8, 8).mul(2).sub(1));
        }
        return file;
    }

    TeacherConfig config(String out) {
        TeacherConfig c = new TeacherConfig();
        c.data = tinyData(dir.resolve("data.npy")).toString();
        c.model = tinyDenoiser(dir.resolve("tiny.pt")).toString();
        c.out = dir.resolve(out).toString();
        c.steps = 30;
        c.batch = 8;          // 5 batches an epoch: the runs cross epochs
        c.lr = 3e-3;
        c.lrWarmup = 5;
        c.gradClip = 50;
        c.emaHalflife = 100;
        c.emaRampup = 0.5;
        c.hflip = true;
        c.logEvery = 3;
        c.ckptEvery = 5;
        c.seed = 7;
        return c;
    }

    /** Every parameter of the model and of its EMA, as raw float bits. */
    static List<int[]> fingerprint(TeacherRun t) {
        List<int[]> out = new ArrayList<>();
        try (Scope s = Scope.open()) {
            for (ScriptModule m : List.of(t.model(), t.emaModel()))
                for (Tensor p : m.parameters()) {
                    float[] v = p.toFloatArray();
                    int[] bits = new int[v.length];
                    for (int i = 0; i < v.length; i++) bits[i] = Float.floatToRawIntBits(v[i]);
                    out.add(bits);
                }
        }
        return out;
    }

    /** Bit identity by construction: same process and op sequence on the same shapes; checkpoints restore state exactly. */
    static void assertSameBits(List<int[]> a, List<int[]> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "tensor " + i + " of model + EMA differs");
    }

    /** metrics.jsonl without the timing fields. */
    static List<String> metrics(Path out) throws IOException {
        List<String> lines = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonObject o = JsonParser.parseString(l).getAsJsonObject();
            o.remove("steps_per_s");
            o.remove("wall_s");
            lines.add(o.toString());
        }
        return lines;
    }

    List<int[]> straight() {
        try (TeacherRun t = TeacherRun.open(config("straight"), false, TrainingListener.none())) {
            TrainingLoop.Result r = t.run(TrainingListener.none(), new AtomicBoolean());
            assertTrue(r.complete());
            assertEquals(30, r.step());
            return fingerprint(t);
        }
    }

    List<int[]> resumeToEnd(String out, long expectFrom) {
        List<String> messages = new ArrayList<>();
        TrainingListener<TeacherMetrics> l = new TrainingListener<TeacherMetrics>() {
            @Override
            public void onMessage(String line) {
                messages.add(line);
            }
        };
        try (TeacherRun t = TeacherRun.open(config(out), true, l)) {
            assertEquals(expectFrom, t.step(), messages.toString());
            assertTrue(messages.stream().anyMatch(m -> m.contains("resuming from")), messages.toString());
            assertTrue(t.run(l, new AtomicBoolean()).complete());
            return fingerprint(t);
        }
    }

    @Test
    void stopAndResumeIsBitExactAndLogsTheSameLosses() throws IOException {
        List<int[]> reference = straight();
        AtomicBoolean stop = new AtomicBoolean();
        try (TeacherRun t = TeacherRun.open(config("stopped"), false, TrainingListener.none())) {
            TrainingLoop.Result r = t.run(new TrainingListener<TeacherMetrics>() {
                @Override
                public void onProgress(long step, double loss) {
                    if (step == 13) stop.set(true); // not a checkpoint step, in the middle of an epoch and of a log window
                }
            }, stop);
            assertTrue(r.stopped());
            assertEquals(13, r.step());
        }
        assertFalse(Files.exists(dir.resolve("stopped/teacher.pt.tmp")));
        assertSameBits(reference, resumeToEnd("stopped", 13));
        assertEquals(metrics(dir.resolve("straight")), metrics(dir.resolve("stopped")));
    }

    @Test
    void crashAndResumeFromTheLastCheckpointIsBitExact() throws IOException {
        List<int[]> reference = straight();
        try (TeacherRun t = TeacherRun.open(config("crashed"), false, TrainingListener.none())) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> t.run(new TrainingListener<TeacherMetrics>() {
                @Override
                public void onProgress(long step, double loss) {
                    if (step == 17) throw new IllegalStateException("simulated crash");
                }
            }, new AtomicBoolean()));
            assertEquals("simulated crash", e.getMessage());
        }
        try (var files = Files.list(dir.resolve("crashed/checkpoints"))) {
            assertEquals(List.of("ckpt-000000010.zip", "ckpt-000000015.zip"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertSameBits(reference, resumeToEnd("crashed", 15));
        assertEquals(metrics(dir.resolve("straight")), metrics(dir.resolve("crashed")));
    }

    @Test
    void outputsAreWrappedEvalModeTeachersWithTheirAttributes() throws IOException {
        TeacherConfig c = config("out");
        c.steps = 7;
        c.cudnnBenchmark = false;
        List<Double> losses = new ArrayList<>();
        try (TeacherRun t = TeacherRun.open(c, false, TrainingListener.none())) {
            assertFalse(Torch.setCudnnBenchmark(true), "the run did not set cuDNN's autotuner as configured");
            t.run(new TrainingListener<TeacherMetrics>() {
                @Override
                public void onProgress(long step, double loss) {
                    losses.add(loss);
                }
            }, new AtomicBoolean());
            assertTrue(t.model().isTraining(), "saving the outputs leaves the trained model's mode alone");
        }
        assertEquals(7, losses.size());
        for (double l : losses) assertTrue(Double.isFinite(l) && l > 0, losses.toString());
        Path out = dir.resolve("out");
        for (String f : List.of("teacher.pt", "teacher_raw.pt", "metrics.jsonl", "config.json", "checkpoints/ckpt-000000007.zip"))
            assertTrue(Files.exists(out.resolve(f)), f);
        // steps 1, 3, 6 and the last one
        assertEquals(List.of(1L, 3L, 6L, 7L), metrics(out).stream().map(l -> JsonParser.parseString(l).getAsJsonObject().get("step").getAsLong()).toList());
        try (Scope s = Scope.open(); ScriptModule teacher = ScriptModule.load(out.resolve("teacher.pt"));
             var ng = Torch.noGrad(); Generator g = new Generator(1)) {
            assertFalse(teacher.isTraining());
            assertArrayEquals(new long[] {1, 8, 8}, teacher.getIntList("data_shape"));
            assertEquals(0.5, teacher.getDouble("sigma_data"));
            Tensor x = Tensor.randn(g, 3, 1, 8, 8);
            assertArrayEquals(new long[] {3, 1, 8, 8}, teacher.forward(x, Tensor.of(0.1f, 1f, 10f)).shape());
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"steps\": 7"));
        assertFalse(Files.readString(out.resolve("config.json")).contains("\"auto\""), "the device is stored resolved");
        // a second start in the same folder is refused; --resume of a finished run does nothing more
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> TeacherRun.open(c, false, TrainingListener.none()));
        assertTrue(e.getMessage().contains("already holds a run"), e.getMessage());
        try (TeacherRun t = TeacherRun.open(c, true, TrainingListener.none())) {
            assertEquals(7, t.step());
            assertTrue(t.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
    }

    /** A folder of 8x8 grayscale PNGs in class sub-folders a/ and b/. */
    Path pngClasses() throws IOException {
        Path root = dir.resolve("pngs");
        java.util.Random r = new java.util.Random(0);
        for (String cls : List.of("a", "b")) {
            Files.createDirectories(root.resolve(cls));
            for (int i = 0; i < 12; i++) {
                BufferedImage im = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) im.getRaster().setSample(x, y, 0, cls.equals("a") ? r.nextInt(128) : 128 + r.nextInt(128));
                ImageIO.write(im, "png", root.resolve(cls).resolve(i + ".png").toFile());
            }
        }
        return root;
    }

    @Test
    void classConditionalTrainingUsesTheDatasetsLabels() throws IOException {
        TeacherConfig c = config("cond");
        c.data = pngClasses().toString();
        c.model = tinyDenoiser(dir.resolve("cond.pt"), 1, 2, 1e30).toString();
        c.classes = 2;
        c.steps = 6;
        try (TeacherRun t = TeacherRun.open(c, false, TrainingListener.none())) {
            assertTrue(t.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        try (Scope s = Scope.open(); ScriptModule teacher = ScriptModule.load(dir.resolve("cond/teacher.pt")); var ng = Torch.noGrad()) {
            assertArrayEquals(new long[] {1, 8, 8}, teacher.getIntList("data_shape"));
            assertFalse(teacher.isTraining());
            assertTrue(teacher.methods().get(0).contains("class_labels"), teacher.methods().toString());
            Tensor y = Tensor.of(new long[] {0, 1}, 2).oneHot(2).to(dev.diffinstruct.torch.DType.FLOAT32);
            assertArrayEquals(new long[] {2, 1, 8, 8}, teacher.forward(Tensor.zeros(2, 1, 8, 8), Tensor.of(0.5f, 2f), y).shape());
        }

        // the unconditional model with --classes, the conditional one without, labels missing or of another count
        TeacherConfig wrong = config("wrong1");
        wrong.data = c.data;
        wrong.classes = 2;
        assertMessage(wrong, "takes 2 arguments", "leave out --classes");
        wrong = config("wrong2");
        wrong.data = c.data;
        wrong.model = c.model;
        assertMessage(wrong, "takes 3 arguments", "pass --classes K");
        wrong = config("wrong3");
        wrong.model = c.model;
        wrong.classes = 2;
        assertMessage(wrong, "needs labelled data");
        wrong = config("wrong4");
        wrong.data = c.data;
        wrong.model = c.model;
        wrong.classes = 3;
        assertMessage(wrong, "--classes 3 but --data", "has 2 classes");
    }

    void assertMessage(TeacherConfig c, String... parts) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> TeacherRun.open(c, false, TrainingListener.none()).close());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void badModelsAndDataFailBeforeTraining() throws IOException {
        TeacherConfig c = config("bad");
        // forward(x) only
        try (ScriptModule m = ScriptModule.create("OneArg"); Scope s = Scope.open()) {
            m.registerParameter("w", Tensor.ones(1));
            m.define("def forward(self, x: Tensor) -> Tensor:\n    return x * self.w\n");
            m.save(dir.resolve("onearg.pt"));
        }
        c.model = dir.resolve("onearg.pt").toString();
        assertMessage(c, "--model", "takes 1 argument", "a denoiser takes (x, sigma)");
        // made for 3-channel images
        c.model = tinyDenoiser(dir.resolve("rgb.pt"), 3, 0, 1e30).toString();
        assertMessage(c, "cannot denoise images of shape [1, 8, 8]");
        // returns another shape
        try (ScriptModule m = ScriptModule.create("Shrink"); Scope s = Scope.open()) {
            m.registerParameter("w", Tensor.ones(1));
            m.define("def forward(self, x: Tensor, sigma: Tensor) -> Tensor:\n    return x[:, :, 1:, :] * self.w\n");
            m.save(dir.resolve("shrink.pt"));
        }
        c.model = dir.resolve("shrink.pt").toString();
        assertMessage(c, "returns shape [2, 1, 7, 8]");
        // nothing to train
        try (ScriptModule m = ScriptModule.create("Identity")) {
            m.define("def forward(self, x: Tensor, sigma: Tensor) -> Tensor:\n    return x\n");
            m.save(dir.resolve("identity.pt"));
        }
        c.model = dir.resolve("identity.pt").toString();
        assertMessage(c, "has no parameters");
        // not a model; no file
        Files.writeString(dir.resolve("junk.pt"), "not a zip");
        c.model = dir.resolve("junk.pt").toString();
        assertMessage(c, "--model", "junk.pt", "not a valid TorchScript file");
        c.model = dir.resolve("missing.pt").toString();
        assertMessage(c, "--model", "missing.pt", "no such file");
        // data problems
        c = config("bad2");
        c.batch = 41;
        assertMessage(c, "--batch 41 is larger than --data", "40 images");
        c.batch = 8;
        c.data = dir.resolve("nothing.npy").toString();
        assertMessage(c, "nothing.npy", "no such file");
        try (Scope s = Scope.open()) {
            Npy.write(dir.resolve("hwc.npy"), Tensor.zeros(4, 8, 8, 3));
        }
        c.data = dir.resolve("hwc.npy").toString();
        assertMessage(c, "hwc.npy", "[N, C, H, W]");
    }

    @Test
    void nonFiniteStepsAreSkippedAndAStreakOfThemFailsTheRun() {
        TeacherConfig c = config("nan");
        c.model = tinyDenoiser(dir.resolve("nan.pt"), 1, 0, 3.0).toString(); // NaN whenever a batch holds sigma > 3
        c.hflip = false;
        List<String> messages = new ArrayList<>();
        TrainingListener<TeacherMetrics> l = new TrainingListener<TeacherMetrics>() {
            @Override
            public void onMessage(String line) {
                messages.add(line);
            }
        };
        try (TeacherRun t = TeacherRun.open(c, false, l)) {
            TrainingLoop.Result r = t.run(l, new AtomicBoolean());
            assertTrue(r.complete());
            assertTrue(r.skippedSteps() > 0 && r.skippedSteps() < 30, "skipped " + r.skippedSteps());
            assertEquals(r.skippedSteps(), messages.stream().filter(m -> m.contains("non-finite loss")).count(), messages.toString());
            try (Scope s = Scope.open()) {
                for (Tensor p : t.model().parameters()) assertTrue(p.allFinite());
                for (Tensor p : t.emaModel().parameters()) assertTrue(p.allFinite());
            }
        }

        TeacherConfig always = config("nan2");
        always.model = tinyDenoiser(dir.resolve("nan2.pt"), 1, 0, 3.0).toString(); // passes the check at sigma 0.5, 2
        always.pMean = 3; // sigma ~ 20: every batch has a sigma above 3
        always.pStd = 0.5;
        always.maxSkippedInARow = 4;
        try (TeacherRun t = TeacherRun.open(always, false, TrainingListener.none())) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.run(TrainingListener.none(), new AtomicBoolean()));
            assertTrue(e.getMessage().contains("4 non-finite steps in a row"), e.getMessage());
        }
    }

    @Test
    void configDefaultsAndRoundTrip() {
        TeacherConfig d = new TeacherConfig();
        assertEquals(-1.2, d.pMean);
        assertEquals(1.2, d.pStd);
        assertEquals(0.5, d.sigmaData);
        assertEquals(128, d.batch);
        assertEquals(0.9, d.beta1);
        assertEquals(0.999, d.beta2);
        assertFalse(d.hflip);
        assertEquals(1e-3 * 0.5, d.lrAt(d.lrWarmup / 2), 1e-12);
        assertEquals(d.lr, d.lrAt(d.lrWarmup * 3));
        // EDM's EMA: half-life in images, ramped up with the images seen
        d.emaRampup = 0;
        assertEquals(0.5, Math.pow(d.emaBeta(1_000_000), d.emaHalflife / d.batch), 1e-9);
        d.emaRampup = 0.05;
        assertEquals(Math.pow(0.5, d.batch / (1000 * 0.05)), d.emaBeta(1000), 1e-12);
        d.model = "m.pt";
        TeacherConfig back = TeacherConfig.fromJson(d.toJson());
        assertEquals(List.of(), d.differences(back));
        back.lr = 5e-4;
        assertEquals(List.of("lr"), d.differences(back));
        d.lr = -1;
        assertThrows(InvalidInputException.class, d::validate);
        assertTrue(Arrays.asList(new TeacherConfig().toJson().split("\n")).stream().anyMatch(l -> l.contains("emaHalflife")));
    }
}
