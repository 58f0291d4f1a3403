package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.diffusion.Teachers;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Class-conditional distillation: a class-conditional analytic mixture teacher (the 8-mode ring,
 * class c = components 2c and 2c+1) distilled into a conditional one-step generator, whose
 * per-class samples land on their class's components; bit-exact resume with labels; a teacher
 * with parameters distilled through the one-step generator made from it; bad input.
 */
class ConditionalDistillationTest {
    static final int CLASSES = 4;
    static final MixtureTeacher RING = MixtureTeacher.defaultRing();

    @TempDir
    Path dir;

    /** Class c owns components 2c and 2c+1 (adjacent on the ring), half each. */
    static double[][] classWeights() {
        double[][] w = new double[CLASSES][8];
        for (int c = 0; c < CLASSES; c++) w[c][2 * c] = w[c][2 * c + 1] = 0.5;
        return w;
    }

    /** The parameter-free conditional ring teacher, saved. */
    static Path conditionalRing(Path dir) {
        Path p = dir.resolve("cond-ring.pt");
        try (ScriptModule m = RING.toConditionalModule(classWeights())) {
            m.save(p);
        }
        return p;
    }

    /**
     * The same teacher with one trainable parameter, so that a generator can be made from it:
     * forward(x, sigma, labels) = mix(x, sigma, labels) + gain * x, gain = 0.
     */
    static Path conditionalRingWithParameter(Path dir) {
        Path p = dir.resolve("cond-ring-param.pt");
        try (Scope s = Scope.open(); ScriptModule mix = RING.toConditionalModule(classWeights()); ScriptModule m = ScriptModule.create("Wrapped")) {
            m.registerModule("mix", mix);
            m.registerParameter("gain", Tensor.of(new float[] {0f}));
            m.setAttribute("data_shape", new long[] {2});
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor, class_labels: Tensor) -> Tensor:
                        return self.mix.forward(x, sigma, class_labels) + self.gain * x
                    """);
            m.save(p);
        }
        return p;
    }

    static DistillConfig config(Path teacher, Path out) {
        DistillConfig c = DistillConfig.mixtureDefaults();
        c.teacher = teacher.toString();
        c.classes = CLASSES;
        c.generator = DistillConfig.BUILTIN_MLP;
        c.out = out.toString();
        c.ckptEvery = 100_000;
        c.logEvery = 100;
        c.seed = 7;
        return c;
    }

    /** The fraction of samples of each class that land on that class's components. */
    static double[] onClass(DistillRun di, Generator g, int n, boolean ema, int[][] counts) {
        double[] frac = new double[CLASSES];
        try (Scope s = Scope.open()) {
            for (int c = 0; c < CLASSES; c++) {
                long[] labels = new long[n];
                Arrays.fill(labels, c);
                long[] mode = RING.nearestMode(di.sample(g, n, ema, labels)).toLongArray();
                int hit = 0;
                for (long m : mode) {
                    counts[c][(int) m]++;
                    if (m / 2 == c) hit++;
                }
                frac[c] = hit / (double) n;
            }
        }
        return frac;
    }

    @Test
    void perClassSamplesLandOnTheirClassComponents() {
        DistillConfig cfg = config(conditionalRing(dir), dir.resolve("run"));
        cfg.steps = 500;
        long t0 = System.nanoTime();
        try (DistillRun di = DistillRun.open(cfg, false, TrainingListener.none());
             Scope s = Scope.open(); Generator g = new Generator(11)) {
            int[][] before = new int[CLASSES][8];
            double[] initial = onClass(di, g, 1000, false, before);
            TrainingLoop.Result r = di.run(TrainingListener.none(), new AtomicBoolean());
            double secs = (System.nanoTime() - t0) / 1e9;
            assertTrue(r.complete());
            int[][] counts = new int[CLASSES][8];
            double[] after = onClass(di, g, 1000, true, counts);
            System.out.printf("conditional ring (%d classes x 2 components), %d steps in %.1f s%n  on-class fraction before %s%n"
                            + "  on-class fraction after (EMA) %s (chance 0.25)%n  per-class component counts %s%n",
                    CLASSES, cfg.steps, secs, Arrays.toString(initial), Arrays.toString(after), Arrays.deepToString(counts));
            for (int c = 0; c < CLASSES; c++) {
                assertTrue(after[c] > 0.9, "class " + c + ": " + after[c] + " of its samples on its components");
                // both of the class's components are used, none collapsed
                assertTrue(counts[c][2 * c] > 150 && counts[c][2 * c + 1] > 150, "class " + c + " covers both its modes: " + Arrays.toString(counts[c]));
            }
            // the outputs are conditional networks with a num_classes attribute
            assertEquals(CLASSES, (long) di.generator().getDouble("num_classes"));
            assertEquals(CLASSES, (long) di.fakeScore().getDouble("num_classes"));
        }
    }

    /** Generator, EMA and fake-score outputs on fixed inputs and labels, as raw floats. */
    static float[][] fingerprint(DistillRun di) {
        try (Scope s = Scope.open(); Generator g = new Generator(99)) {
            long[] labels = new long[64];
            for (int i = 0; i < labels.length; i++) labels[i] = i % CLASSES;
            float[] gen = di.sample(g, 64, false, labels).toFloatArray();
            float[] ema = di.sample(g, 64, true, labels).toFloatArray();
            Tensor x = Tensor.randn(g, 64, 2);
            float[] fake;
            try (var ng = Torch.noGrad()) {
                fake = di.fakeScore().forward(x, Tensor.full(0.7, 64), Teachers.oneHot(labels, CLASSES, dev.diffinstruct.torch.Device.CPU)).toFloatArray();
            }
            return new float[][] {gen, ema, fake};
        }
    }

    @Test
    void resumeWithClassesIsBitIdentical() {
        Path teacher = conditionalRing(dir);
        DistillConfig straight = config(teacher, dir.resolve("straight"));
        straight.steps = 60;
        straight.warmupFake = 10;
        straight.batch = 64;
        straight.hidden = 32;
        straight.ckptEvery = 20;
        straight.logEvery = 10;
        float[][] reference;
        try (DistillRun di = DistillRun.open(straight, false, TrainingListener.none())) {
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            reference = fingerprint(di);
        }
        DistillConfig stopped = straight.copy();
        stopped.out = dir.resolve("stopped").toString();
        AtomicBoolean stop = new AtomicBoolean();
        try (DistillRun di = DistillRun.open(stopped, false, TrainingListener.none())) {
            TrainingLoop.Result r = di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() == 30) stop.set(true);
                }
            }, stop);
            assertTrue(r.stopped());
        }
        // the resumed request asks for no classes: the checkpoint's configuration is kept
        DistillConfig request = stopped.copy();
        request.classes = 0;
        request.generator = null;
        List<String> messages = new ArrayList<>();
        TrainingListener l = ResumeTest.collecting(messages);
        try (DistillRun di = DistillRun.open(request, true, l)) {
            assertEquals(30, di.step(), messages.toString());
            assertEquals(CLASSES, di.config().classes);
            assertTrue(di.run(l, new AtomicBoolean()).complete());
            ResumeTest.assertBitIdentical(reference, fingerprint(di));
        }
        assertTrue(messages.stream().anyMatch(m -> m.contains("resuming: --classes: checkpoint 4, given 0; keeping 4")), messages.toString());
    }

    @Test
    void generatorMadeFromAConditionalTeacher() {
        DistillConfig cfg = config(conditionalRingWithParameter(dir), dir.resolve("copy"));
        cfg.generator = null; // D_theta(z s, s, labels) from a copy of the teacher
        cfg.steps = 5;
        cfg.warmupFake = 2;
        cfg.batch = 32;
        try (DistillRun di = DistillRun.open(cfg, false, TrainingListener.none());
             Scope s = Scope.open(); Generator g = new Generator(5)) {
            assertTrue(di.generator().methods().stream().anyMatch(m -> m.startsWith("forward(") && m.contains("class_labels")),
                    di.generator().methods().toString());
            assertEquals(CLASSES, (long) di.generator().getDouble("num_classes"));
            assertArrayEquals(new long[] {2}, di.generator().getIntList("latent_shape"));
            // the teacher (and the raw net behind its view) is frozen; the copies train
            for (Map.Entry<String, Tensor> e : di.teacher().namedParameters().entrySet())
                assertFalse(e.getValue().requiresGrad(), "teacher parameter " + e.getKey() + " is frozen");
            assertFalse(di.teacher().namedParameters().isEmpty());
            for (Tensor p : di.generator().parameters()) assertTrue(p.requiresGrad());
            for (Tensor p : di.fakeScore().parameters()) assertTrue(p.requiresGrad());
            float[] teacherBefore = di.teacher().parameters().get(0).toFloatArray();
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            // exact by construction: a frozen parameter is never written
            assertArrayEquals(teacherBefore, di.teacher().parameters().get(0).toFloatArray(), 0f, "the teacher is not trained");
            assertNotEquals(0f, di.generator().parameters().get(0).toFloatArray()[0], "the generator trained");
            // the same latents with different labels give different samples: the labels reach the teacher copy
            long[] zeros = new long[200], twos = new long[200];
            Arrays.fill(twos, 2);
            int[][] counts = new int[CLASSES][8];
            long[] m0, m2;
            try (Generator a = new Generator(1); Generator b = new Generator(1)) {
                m0 = RING.nearestMode(di.sample(a, 200, false, zeros)).toLongArray();
                m2 = RING.nearestMode(di.sample(b, 200, false, twos)).toLongArray();
            }
            long on0 = Arrays.stream(m0).filter(m -> m / 2 == 0).count(), on2 = Arrays.stream(m2).filter(m -> m / 2 == 2).count();
            System.out.printf("generator from the conditional teacher: class 0 on its modes %d/200, class 2 %d/200%n", on0, on2);
            assertTrue(on0 > 100 && on2 > 100, on0 + ", " + on2);
        }
    }

    private static InvalidInputException fails(DistillConfig c) {
        return BadInputTest.fails(c);
    }

    @Test
    void classesMustMatchTheTeacher() {
        // --classes with an unconditional teacher
        Path uncond = dir.resolve("ring.pt");
        try (ScriptModule m = RING.toModule()) {
            m.save(uncond);
        }
        DistillConfig a = config(uncond, dir.resolve("a"));
        a.dataShape = new long[] {2};
        a.steps = 2;
        String msg = fails(a).getMessage();
        assertTrue(msg.contains("it looks unconditional: drop --classes"), msg);

        // a conditional teacher without --classes
        DistillConfig b = config(conditionalRing(dir), dir.resolve("b"));
        b.classes = 0;
        b.steps = 2;
        msg = fails(b).getMessage();
        assertTrue(msg.contains("class-conditional") && msg.contains("give --classes"), msg);

        // the same for other teacher kinds, refused when the view is made
        DistillConfig c = config(uncond, dir.resolve("c"));
        c.teacherKind = "vp-eps";
        c.dataShape = new long[] {2};
        msg = fails(c).getMessage();
        assertTrue(msg.contains("drop --classes"), msg);

        // a class count that disagrees with the teacher's num_classes, and the built-in mixture
        DistillConfig d = config(conditionalRing(dir), dir.resolve("d"));
        d.classes = 3;
        d.fake = null;
        msg = fails(d).getMessage();
        assertTrue(msg.contains("num_classes 4") || msg.contains("fails"), msg);
        DistillConfig e = config(conditionalRing(dir), dir.resolve("e"));
        e.teacher = DistillConfig.BUILTIN_MIXTURE;
        assertTrue(fails(e).getMessage().contains("unconditional"));
        DistillConfig f = config(conditionalRing(dir), dir.resolve("f"));
        f.classes = -1;
        assertTrue(fails(f).getMessage().contains("--classes"));

        // a user generator that does not take labels
        Path g = dir.resolve("g.pt");
        try (Generator init = new Generator(1);
             ScriptModule m = dev.diffinstruct.trainer.models.BuiltinModels.mlpGenerator(new long[] {2}, new long[] {2}, 8, 1, init)) {
            m.save(g);
        }
        DistillConfig h = config(conditionalRing(dir), dir.resolve("h"));
        h.generator = g.toString();
        h.latentShape = null;
        msg = fails(h).getMessage();
        assertTrue(msg.contains("forward(z, class_labels) fails") && msg.contains("drop --classes"), msg);
    }
}
