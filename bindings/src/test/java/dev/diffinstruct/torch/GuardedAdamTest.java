package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Adam's guarded step (the non-finite guard without a host sync, for CUDA; tested here on the CPU,
 * where the same device-side code runs): it takes libtorch's update when the gradients are finite
 * and leaves every bit of state alone when they are not.
 */
class GuardedAdamTest {
    private static final Adam.Options OPTIONS = Adam.Options.lr(0.05).betas(0.0, 0.999);

    /** One gradient of the squared output at a fixed batch; times NaN when {@code poison}. */
    private static void gradient(ScriptModule m, long seed, boolean poison) {
        try (Scope s = Scope.open(); Generator g = new Generator(seed)) {
            Tensor loss = m.forward(Tensor.randn(g, 5, 4)).square().sum();
            (poison ? loss.mul(Double.NaN) : loss).backward();
        }
    }

    /** The reference: the host-side guard of the CPU path (clip, read the norm, step or skip). */
    private static double hostGuardedStep(Adam opt, ScriptModule m, double max) {
        double norm = m.clipGradNorm(max);
        if (Double.isFinite(norm)) opt.step();
        opt.zeroGrad();
        return norm;
    }

    private static void assertClose(ScriptModule expected, ScriptModule actual) {
        List<Tensor> e = expected.parameters(), a = actual.parameters();
        for (int i = 0; i < e.size(); i++) {
            float[] x = e.get(i).toFloatArray(), y = a.get(i).toFloatArray();
            // the two paths round only the last product of the update differently
            for (int j = 0; j < x.length; j++) assertEquals(x[j], y[j], 1e-6 * Math.max(1, Math.abs(x[j])), "parameter " + i + "[" + j + "]");
        }
    }

    private static void assertSame(ScriptModule expected, ScriptModule actual) {
        for (int i = 0; i < expected.parameters().size(); i++)
            assertArrayEquals(expected.parameters().get(i).toFloatArray(), actual.parameters().get(i).toFloatArray(), "parameter " + i);
    }

    @Test
    void guardedStepsFollowTheHostGuardAndSkipNonFiniteOnes() {
        for (double max : new double[] {Double.POSITIVE_INFINITY, 0.5}) {
            try (ScriptModule ref = TrainingHelpersTest.linear(1); ScriptModule dev = TrainingHelpersTest.linear(1);
                 Adam optRef = new Adam(ref.parameters(), OPTIONS); Adam optDev = new Adam(dev.parameters(), OPTIONS)) {
                double refNorm = Double.NaN;
                for (int step = 1; step <= 8; step++) {
                    boolean poison = step == 3 || step == 4;
                    gradient(ref, step, poison);
                    gradient(dev, step, poison);
                    refNorm = hostGuardedStep(optRef, ref, max);
                    optDev.guardedStep(max);
                    optDev.zeroGrad();
                    if (step == 4) {
                        Adam.GuardCounts c = optDev.guardCounts();
                        assertEquals(new Adam.GuardCounts(2, 2, 2, c.lastNorm()), c);
                        assertTrue(Double.isNaN(c.lastNorm()));
                    }
                }
                assertClose(ref, dev);
                Adam.GuardCounts c = optDev.guardCounts();
                assertEquals(2, c.skipped());
                assertEquals(0, c.worstRun(), "the run of two was reported at the previous read");
                assertEquals(0, c.run());
                assertEquals(refNorm, c.lastNorm(), 1e-5 * refNorm);
            }
        }
    }

    @Test
    void aSkippedStepChangesNoBit() {
        // a run with a poisoned step in the middle (and one at the very start) equals, bit for bit,
        // the same guarded run without those steps: parameters, moments and step counts untouched
        try (ScriptModule a = TrainingHelpersTest.linear(2); ScriptModule b = TrainingHelpersTest.linear(2);
             Adam optA = new Adam(a.parameters(), OPTIONS); Adam optB = new Adam(b.parameters(), OPTIONS)) {
            for (int step = 1; step <= 6; step++) {
                boolean poison = step == 1 || step == 4;
                gradient(a, step, poison);
                optA.guardedStep(Double.POSITIVE_INFINITY);
                optA.zeroGrad();
                if (poison) continue;
                gradient(b, step, false);
                optB.guardedStep(Double.POSITIVE_INFINITY);
                optB.zeroGrad();
            }
            assertSame(b, a);
            assertEquals(2, optA.guardCounts().skipped());
            assertEquals(0, optB.guardCounts().skipped());
        }
    }

    @Test
    void stepCountsReachTheSavedStateAndThePlainStep() {
        // guarded steps, then a save and load into a fresh optimiser: both continue with plain
        // steps identically, which needs the device step counts written back before the save
        try (ScriptModule a = TrainingHelpersTest.linear(3); ScriptModule b = TrainingHelpersTest.linear(3);
             Adam optA = new Adam(a.parameters(), OPTIONS)) {
            for (int step = 1; step <= 4; step++) {
                gradient(a, step, step == 2);
                optA.guardedStep(Double.POSITIVE_INFINITY);
                optA.zeroGrad();
            }
            byte[] state = optA.saveState();
            try (var ng = Torch.noGrad()) {
                for (int i = 0; i < 2; i++) b.parameters().get(i).copyFromInPlace(a.parameters().get(i));
            }
            try (Adam optB = new Adam(b.parameters(), OPTIONS)) {
                optB.loadState(state);
                assertEquals(0, optB.guardCounts().skipped(), "a load starts the counts anew");
                for (int step = 5; step <= 7; step++) {
                    gradient(a, step, false);
                    gradient(b, step, false);
                    optA.step();
                    optB.step();
                    optA.zeroGrad();
                    optB.zeroGrad();
                }
            }
            assertSame(a, b);
        }
        // and the same run with plain steps only (the poisoned one left out) ends close to it
        try (ScriptModule g = TrainingHelpersTest.linear(3); ScriptModule p = TrainingHelpersTest.linear(3);
             Adam optG = new Adam(g.parameters(), OPTIONS); Adam optP = new Adam(p.parameters(), OPTIONS)) {
            for (int step = 1; step <= 7; step++) {
                gradient(g, step, false);
                gradient(p, step, false);
                if (step <= 4) optG.guardedStep(Double.POSITIVE_INFINITY);
                else optG.step();
                optP.step();
                optG.zeroGrad();
                optP.zeroGrad();
            }
            assertClose(p, g);
        }
    }

    @Test
    void refusesAmsgradAndBadNorms() {
        try (ScriptModule m = TrainingHelpersTest.linear(4); Adam opt = new Adam(m.parameters(), OPTIONS.amsgrad(true))) {
            gradient(m, 1, false);
            assertTrue(assertThrows(TorchException.class, () -> opt.guardedStep(1.0)).getMessage().contains("AMSGrad"));
            assertThrows(TorchException.class, () -> opt.guardedStep(0.0));
        }
    }
}
