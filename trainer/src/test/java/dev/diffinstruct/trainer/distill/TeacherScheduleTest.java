package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.PythonReference;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.metrics.EnergyDistance;
import dev.diffinstruct.trainer.metrics.ModeCoverage;
import dev.diffinstruct.trainer.run.TrainingListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The schedule flags of distill reach the teacher's EDM view and are kept by a resumed run: the
 * mixture teachers of export_mixture_kinds.py in the vp-eps convention (one with beta 0.05..15,
 * t x 999 and 2 classes) give the exact mixture D only with their flags; a short distillation of
 * the vp-eps teacher moves the generator towards the mixture.
 */
class TeacherScheduleTest {
    @TempDir
    static Path dir;

    /** The exported mixture (export_mixture_kinds.py's MEANS, STDS, WEIGHTS). */
    static final MixtureTeacher MIX = new MixtureTeacher(new double[][] {{-2, 0}, {2, 0.5}, {0, 2}}, new double[] {0.3, 0.5, 0.2},
            new double[] {0.5, 0.3, 0.2});

    @BeforeAll
    static void export() {
        PythonReference.assumeAvailable();
        PythonReference.run("export_mixture_kinds.py", dir.toString());
    }

    static DistillConfig vpCond(Path out) {
        DistillConfig c = new DistillConfig();
        c.teacher = dir.resolve("vp_eps_cond.pt").toString();
        c.teacherKind = "vp-eps";
        c.betaMin = 0.05;
        c.betaMax = 15;
        c.timeScale = 999;
        c.classes = 2;
        c.dataShape = new long[] {2};
        c.hidden = 16;
        c.layers = 1;
        c.batch = 16;
        c.steps = 2;
        c.ckptEvery = 1;
        c.logEvery = 1;
        c.out = out.toString();
        return c;
    }

    /** max |D_view - D_ref| / max(1, |x|) over the exported points of vp_eps_cond. */
    static double viewError(DistillRun di) {
        try (Scope s = Scope.open(); var ng = Torch.noGrad()) {
            Tensor x = Npy.read(dir.resolve("vp_eps_cond.x.npy"));
            Tensor sigma = Npy.read(dir.resolve("vp_eps_cond.sigma.npy"));
            Tensor labels = Npy.read(dir.resolve("vp_eps_cond.labels.npy"));
            double[] d = di.teacher().forward(x, sigma, labels).toDoubleArray();
            double[] ref = Npy.read(dir.resolve("vp_eps_cond.d.npy")).toDoubleArray();
            float[] xs = x.toFloatArray();
            double worst = 0;
            for (int i = 0; i < d.length; i++) {
                double scale = Math.max(1, Math.max(Math.abs(xs[i - i % 2]), Math.abs(xs[i - i % 2 + 1])));
                worst = Math.max(worst, Math.abs(d[i] - ref[i]) / scale);
            }
            return worst;
        }
    }

    @Test
    void theScheduleFlagsReachTheTeacherAndSurviveResume() {
        Path out = dir.resolve("vp-run");
        double right, wrong;
        try (DistillRun di = DistillRun.open(vpCond(out), false, TrainingListener.none())) {
            right = viewError(di);
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        // resumed with the default schedule asked for: the checkpoint's flags are kept
        DistillConfig request = vpCond(out);
        request.betaMin = 0.1;
        request.betaMax = 20;
        request.timeScale = 1;
        request.steps = 3;
        List<String> messages = new ArrayList<>();
        TrainingListener l = new TrainingListener<StepMetrics>() {
            @Override
            public void onMessage(String line) {
                messages.add(line);
            }
        };
        double resumed;
        try (DistillRun di = DistillRun.open(request, true, l)) {
            assertEquals(2, di.step());
            resumed = viewError(di);
            assertEquals(15.0, di.config().betaMax);
            assertTrue(di.run(l, new AtomicBoolean()).complete());
        }
        assertTrue(messages.stream().anyMatch(m -> m.contains("resuming: --beta-min: checkpoint 0.05, given 0.1; keeping 0.05")), messages.toString());
        // a fresh run with the default schedule reads the same file as another teacher
        request.out = dir.resolve("vp-wrong").toString();
        try (DistillRun di = DistillRun.open(request, false, TrainingListener.none())) {
            wrong = viewError(di);
        }
        System.out.printf("vp-eps teacher view vs exact D: with its flags %.2e, resumed %.2e, with default flags %.3f%n", right, resumed, wrong);
        assertTrue(right < 1e-4, "with its flags: " + right);
        assertEquals(right, resumed, 0.0); // exact by construction: the same view (flags from the checkpoint) on the same inputs in one process
        assertTrue(wrong > 0.01, "default flags should give another teacher: " + wrong);

        DistillConfig bad = vpCond(dir.resolve("bad"));
        bad.betaMax = 0.01;
        assertTrue(assertThrows(InvalidInputException.class, bad::validate).getMessage().contains("--beta-min"));
        bad = vpCond(dir.resolve("bad"));
        bad.schedule = "sqrt";
        assertTrue(assertThrows(InvalidInputException.class, bad::validate).getMessage().contains("--schedule"));
    }

    @Test
    void distillingAVpEpsTeacherMovesTheGeneratorToTheMixture() {
        DistillConfig c = new DistillConfig();
        c.teacher = dir.resolve("vp_eps.pt").toString();
        c.teacherKind = "vp-eps";
        c.dataShape = new long[] {2};
        c.latentShape = new long[] {2};
        c.hidden = 64;
        c.layers = 2;
        c.batch = 128;
        c.steps = 400;
        c.warmupFake = 50;
        c.fakeSteps = 2;
        c.lrG = 1e-3;
        c.lrF = 2e-3;
        c.pMean = -1.0;
        c.pStd = 1.5;
        c.emaHalflife = 5000;
        c.ckptEvery = 100_000;
        c.logEvery = 100_000;
        c.seed = 3;
        c.out = dir.resolve("vp-distill").toString();
        long t0 = System.nanoTime();
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none());
             Scope s = Scope.open(); Generator g = new Generator(4)) {
            Tensor real = MIX.sample(g, 2000);
            Tensor x0 = di.sample(g, 2000, false);
            ModeCoverage before = ModeCoverage.of(MIX, x0);
            double edBefore = EnergyDistance.between(x0, real);
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
            Tensor x1 = di.sample(g, 2000, true);
            ModeCoverage after = ModeCoverage.of(MIX, x1);
            double edAfter = EnergyDistance.between(x1, real);
            System.out.printf("vp-eps teacher distilled, %d steps in %.1f s%n  before: %s, energy distance %.4f%n  after:  %s, energy distance %.4f%n",
                    c.steps, (System.nanoTime() - t0) / 1e9, before, edBefore, after, edAfter);
            assertTrue(after.maxWeightError() < before.maxWeightError() && after.maxWeightError() < 0.15, before + " -> " + after);
            assertEquals(3, after.modesCovered(), after.toString());
            assertTrue(edAfter < 0.25 * edBefore, edBefore + " -> " + edAfter);
        }
    }
}
