package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.PARITY_RTOL;
import static dev.diffinstruct.torch.TestSupport.assertClose;
import static dev.diffinstruct.torch.TestSupport.assertExactlyEqual;
import static dev.diffinstruct.torch.TestSupport.assertParity;
import static dev.diffinstruct.torch.TestSupport.fixture;
import static dev.diffinstruct.torch.TestSupport.fixtures;
import static dev.diffinstruct.torch.TestSupport.lines;
import static dev.diffinstruct.torch.TestSupport.npy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java layer against PyTorch on the same libtorch: the modules and reference numbers come from
 * make_fixtures.py (keep its constants and this class's in step).
 */
class PyTorchParityTest {
    static final double ADAM_LR = 1e-2;
    static final double ADAM_WEIGHT_DECAY = 1e-4;
    static final int ADAM_STEPS = 3;
    static final double CLIP_MAX_NORM = 0.05;

    /** The forward inputs of a fixture model: in_0.npy, in_1.npy, ... */
    static Object[] inputs(String model) {
        List<Tensor> in = new ArrayList<>();
        for (int i = 0; Files.exists(fixtures().resolve(model + "/in_" + i + ".npy")); i++) in.add(npy(model + "/in_" + i + ".npy"));
        assertFalse(in.isEmpty(), "no inputs for " + model);
        return in.toArray();
    }

    static Tensor loss(ScriptModule m, String model) {
        return m.forward(inputs(model)).square().mean();
    }

    /** Parameters by name, checked against the names PyTorch reported, in its order. */
    static Map<String, Tensor> parameters(ScriptModule m, String model) {
        Map<String, Tensor> ps = m.namedParameters();
        assertEquals(lines(fixture(model + "/params.txt")), List.copyOf(ps.keySet()), model + " parameter names");
        return ps;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "conv"})
    void forwardMatchesPyTorch(String model) {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture(model + ".pt"))) {
            assertParity(model + " forward", npy(model + "/out.npy"), m.forward(inputs(model)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "conv"})
    void gradientsMatchPyTorch(String model) {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture(model + ".pt"))) {
            Tensor loss = loss(m, model);
            assertParity(model + " loss", npy(model + "/loss.npy"), loss);
            loss.backward();
            for (var e : parameters(m, model).entrySet()) {
                Tensor g = e.getValue().grad();
                assertNotNull(g, e.getKey() + " has no gradient");
                assertParity(model + " grad " + e.getKey(), npy(model + "/grad/" + e.getKey() + ".npy"), g);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "conv"})
    void gradientClippingMatchesPyTorch(String model) {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture(model + ".pt"))) {
            loss(m, model).backward();
            Map<String, Tensor> ps = parameters(m, model);
            double total = Tensor.clipGradNorm(ps.values(), CLIP_MAX_NORM);
            assertTrue(total > CLIP_MAX_NORM, "the fixture must clip");
            // a norm (sum of squares, no cancellation): float32 relative rounding, no absolute floor needed
            assertClose(model + " clip_grad_norm_ total", new double[] {npy(model + "/clip/total_norm.npy").item()},
                    new double[] {total}, PARITY_RTOL, 0);
            for (var e : ps.entrySet())
                assertParity(model + " clipped grad " + e.getKey(), npy(model + "/clip/" + e.getKey() + ".npy"), e.getValue().grad());
        }
    }

    /**
     * Three Adam steps; once on a trainable copy, once on the loaded module itself. With weight
     * decay libtorch's Adam runs; without, from the second step on, the shim's fused one-pass Adam.
     */
    @ParameterizedTest(name = "{0} {1} copy={4}")
    @CsvSource({
        "mlp,  adam_b0,           0.0, 0.999, true",
        "mlp,  adam_default,      0.9, 0.999, false",
        "conv, adam_b0,           0.0, 0.999, false",
        "conv, adam_default,      0.9, 0.999, true",
        "mlp,  adam_b0_nowd,      0.0, 0.999, true",
        "mlp,  adam_default_nowd, 0.9, 0.999, false",
        "conv, adam_b0_nowd,      0.0, 0.999, false",
        "conv, adam_default_nowd, 0.9, 0.999, true",
    })
    void adamMatchesPyTorch(String model, String tag, double beta1, double beta2, boolean trainableCopy) {
        try (Scope s = Scope.open(); ScriptModule loaded = ScriptModule.load(fixture(model + ".pt"));
             ScriptModule m = trainableCopy ? loaded.trainableCopy() : loaded) {
            Map<String, Tensor> ps = parameters(m, model);
            var options = Adam.Options.lr(ADAM_LR).betas(beta1, beta2).weightDecay(tag.endsWith("_nowd") ? 0 : ADAM_WEIGHT_DECAY);
            try (Adam adam = new Adam(List.copyOf(ps.values()), options)) {
                for (int step = 0; step < ADAM_STEPS; step++) {
                    adam.zeroGrad();
                    try (Scope inner = Scope.open()) {
                        loss(m, model).backward();
                    }
                    adam.step();
                }
            }
            for (var e : ps.entrySet())
                assertParity(model + " " + tag + " " + e.getKey(), npy(model + "/" + tag + "/" + e.getKey() + ".npy"), e.getValue());
        }
    }

    @Test
    void trainableCopyIsIndependentOfTheOriginal() {
        try (Scope s = Scope.open(); ScriptModule loaded = ScriptModule.load(fixture("mlp.pt"));
             ScriptModule copy = loaded.trainableCopy()) {
            Map<String, Tensor> original = loaded.namedParameters();
            Map<String, Tensor> before = new java.util.LinkedHashMap<>();
            for (var e : original.entrySet()) before.put(e.getKey(), e.getValue().detach().copy());
            Map<String, Tensor> copied = copy.namedParameters();
            try (Adam adam = new Adam(List.copyOf(copied.values()), Adam.Options.lr(0.1))) {
                loss(copy, "mlp").backward();
                adam.step();
            }
            assertEquals(original.keySet(), copied.keySet());
            for (var e : copied.entrySet()) {
                String name = e.getKey();
                assertTrue(e.getValue().isLeaf() && e.getValue().requiresGrad(), name + " must be a trainable leaf");
                assertFalse(e.getValue().allClose(before.get(name), 0, 0), "copy's " + name + " did not move");
                // exact by construction: nothing may write the original's storage, so its bits stay as copied
                assertExactlyEqual("original " + name + " after training the copy", before.get(name), original.get(name));
                assertTrue(original.get(name).grad() == null, "original " + name + " got a gradient");
            }
        }
    }

    /**
     * Exact: the fixtures are drawn at build time on this machine (so with the CPU kernel libtorch
     * picks here) by the same libtorch build: one mt19937 stream and element-wise Box-Muller /
     * uniform transforms, no reductions, so the bits agree by construction. (A Java LibTorch other
     * than the Python's may transform float32 randn of >= 16 elements through other code.)
     */
    @ParameterizedTest
    @ValueSource(longs = {0, 42, 123456789})
    void seededGeneratorMatchesTorchGenerator(long seed) {
        try (Scope s = Scope.open()) {
            try (Generator g = new Generator(seed)) {
                // two draws in a row: the stream continues as in PyTorch
                assertExactlyEqual("randn(5) seed " + seed, npy("random/randn_" + seed + "_a.npy"), Tensor.randn(g, 5));
                assertExactlyEqual("then randn(3,1,8,8)", npy("random/randn_" + seed + "_b.npy"), Tensor.randn(g, 3, 1, 8, 8));
            }
            try (Generator g = new Generator(seed)) {
                assertExactlyEqual("float64 randn seed " + seed, npy("random/randn64_" + seed + ".npy"),
                        Tensor.randn(g, DType.FLOAT64, Device.CPU, 4, 7));
            }
            try (Generator g = new Generator(seed)) {
                assertExactlyEqual("rand seed " + seed, npy("random/rand_" + seed + ".npy"), Tensor.rand(g, 6, 3));
            }
        }
    }

    @Test
    void generatorStateRestoresTheStream() {
        try (Scope s = Scope.open(); Generator g = new Generator(7)) {
            Tensor.randn(g, 10);
            byte[] state = g.state();
            Tensor first = Tensor.randn(g, 4, 4);
            g.setState(state);
            // exact by construction: the same draw from the same restored state in one process
            assertExactlyEqual("draw after setState", first, Tensor.randn(g, 4, 4));
        }
    }

    /** torch.manual_seed(seed) seeds the default generator that a null Generator draws from (exact, as above). */
    @Test
    void manualSeedDrivesTheDefaultGenerator() {
        byte[] saved = Torch.rngState();
        try (Scope s = Scope.open()) {
            Torch.manualSeed(42);
            assertExactlyEqual("randn(5) after manual_seed(42)", npy("random/randn_42_a.npy"), Tensor.randn(null, 5));
            byte[] state = Torch.rngState();
            Tensor next = Tensor.randn(null, 3, 1, 8, 8);
            assertExactlyEqual("the stream continues", npy("random/randn_42_b.npy"), next);
            Torch.setRngState(state);
            assertExactlyEqual("after setRngState", next, Tensor.randn(null, 3, 1, 8, 8));
        } finally {
            Torch.setRngState(saved);
        }
    }
}
