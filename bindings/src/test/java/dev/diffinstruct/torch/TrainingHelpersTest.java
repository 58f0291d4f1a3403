package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one-call module helpers of the training loop equal the per-parameter calls they replace, bit for bit. */
class TrainingHelpersTest {

    static ScriptModule linear(long seed) {
        ScriptModule m = ScriptModule.create("Lin");
        try (Scope s = Scope.open(); Generator g = new Generator(seed)) {
            m.registerParameter("w", Tensor.randn(g, 3, 4));
            m.registerParameter("b", Tensor.randn(g, 3));
        }
        m.define("def forward(self, x: Tensor) -> Tensor:\n    return x.matmul(self.w.t()) + self.b\n");
        return m.requiresGrad(true);
    }

    @Test
    void emaEqualsPerParameterUpdate() {
        try (Scope s = Scope.open(); ScriptModule avg = linear(1); ScriptModule cur = linear(2);
             ScriptModule ref = linear(1)) {
            avg.requiresGrad(false);
            ref.requiresGrad(false);
            double beta = 0.9911;
            avg.emaUpdateFrom(cur, beta);
            try (var ng = Torch.noGrad()) {
                List<Tensor> r = ref.parameters(), c = cur.parameters();
                for (int i = 0; i < r.size(); i++) r.get(i).mulInPlace(beta).addScaledInPlace(c.get(i), 1 - beta);
            }
            List<Tensor> a = avg.parameters(), r = ref.parameters();
            // exact by design: element-wise only, and fused_cpu.cpp uses FMA exactly where libtorch's
            // vectorised mul_/add_ do on this CPU (chosen at run time), so the bits agree on any x86-64
            for (int i = 0; i < a.size(); i++) assertArrayEquals(r.get(i).toFloatArray(), a.get(i).toFloatArray());
            avg.emaUpdateFrom(cur, 0);
            assertArrayEquals(cur.parameters().get(0).toFloatArray(), avg.parameters().get(0).toFloatArray());
        }
    }

    @Test
    void emaRefusesDifferentModules() {
        try (ScriptModule a = linear(1); ScriptModule b = ScriptModule.create("Empty")) {
            assertThrows(TorchException.class, () -> a.emaUpdateFrom(b, 0.5));
        }
    }

    @Test
    void moduleClipGradNormEqualsTensorClipGradNorm() {
        for (double max : new double[] {Double.POSITIVE_INFINITY, 0.1}) {
            try (Scope s = Scope.open(); ScriptModule m = linear(3); ScriptModule ref = linear(3);
                 Generator g = new Generator(4)) {
                Tensor x = Tensor.randn(g, 5, 4);
                m.forward(x).square().sum().backward();
                ref.forward(x).square().sum().backward();
                double n = m.clipGradNorm(max);
                double nRef = Tensor.clipGradNorm(ref.parameters(), max);
                // exact by construction: identical modules and inputs, and the shim runs clip_grad_norm_'s
                // own ops (per-tensor norm, stack, norm, mul_) on the same shapes in the same process
                assertEquals(nRef, n);
                for (int i = 0; i < 2; i++)
                    assertArrayEquals(ref.parameters().get(i).grad().toFloatArray(), m.parameters().get(i).grad().toFloatArray());
            }
        }
        try (ScriptModule m = linear(3)) {
            assertEquals(0.0, m.clipGradNorm(Double.POSITIVE_INFINITY)); // no gradients yet
        }
    }

    @Test
    void readsTrainingFlag(@TempDir Path dir) {
        Path file = dir.resolve("drop.pt");
        TestSupport.python("""
                import sys, torch
                net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)))
                torch.jit.script(net).save(sys.argv[1])
                """, file.toString());
        try (ScriptModule plain = linear(1); ScriptModule drop = ScriptModule.load(file)) {
            assertFalse(plain.readsTrainingFlag());
            assertTrue(drop.readsTrainingFlag()); // dropout inside a submodule
        }
    }

    @Test
    void rngStateAsTensorRestores() {
        try (Scope s = Scope.open()) {
            Torch.manualSeed(5);
            Tensor state = Torch.rngStateTensor();
            float[] first = Tensor.randn(null, 4).toFloatArray();
            Torch.setRngState(state);
            // exact by construction: the same draw from the same restored state
            assertArrayEquals(first, Tensor.randn(null, 4).toFloatArray());
        }
    }

    @Test
    void processWideSettingsHoldOnEveryThread() throws Exception {
        // libtorch keeps the graph executor's flag per thread; the shim applies the process-wide
        // setting (off, since loading) on each thread's first call, so a fresh thread sees "off"
        var pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            assertFalse(pool.submit(() -> Torch.setGraphExecutorOptimize(false)).get(), "a new thread had the optimisation on");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void tf32AndCudnnFlagsAreProcessWideAndReadBack() throws Exception {
        boolean mm = Torch.tf32Matmul(), conv = Torch.tf32Convolutions();
        var pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            Torch.setTf32(true, false);
            assertTrue(Torch.tf32Matmul());
            assertFalse(Torch.tf32Convolutions());
            // libtorch's global context, unlike grad mode: another thread sees the same flags
            assertTrue(pool.submit(Torch::tf32Matmul).get());
            Torch.setTf32(false, true);
            assertFalse(pool.submit(Torch::tf32Matmul).get());
            assertTrue(pool.submit(Torch::tf32Convolutions).get());
        } finally {
            Torch.setTf32(mm, conv);
            pool.shutdownNow();
        }
        boolean bench = Torch.setCudnnBenchmark(true);
        try {
            assertTrue(Torch.setCudnnBenchmark(false), "the autotuner flag did not read back");
            assertFalse(Torch.setCudnnBenchmark(true));
        } finally {
            Torch.setCudnnBenchmark(bench);
        }
    }
}
