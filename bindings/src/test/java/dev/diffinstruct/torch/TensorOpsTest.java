package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.assertClose;
import static dev.diffinstruct.torch.TestSupport.assertExactlyEqual;
import static dev.diffinstruct.torch.TestSupport.assertParity;
import static dev.diffinstruct.torch.TestSupport.npy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Function;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Java tensor layer against PyTorch's values (ops/*.npy from make_fixtures.py) and closed forms. */
class TensorOpsTest {
    private Scope scope;
    /** The fixture input: float64 [3, 4, 5]. */
    private Tensor a;

    @BeforeEach
    void open() {
        scope = Scope.open();
        a = npy("ops/a.npy");
        assertArrayEquals(new long[] {3, 4, 5}, a.shape());
        assertEquals(DType.FLOAT64, a.dtype());
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private void check(String fixture, Function<Tensor, Tensor> op) {
        Tensor expected = npy("ops/" + fixture + ".npy");
        Tensor actual = op.apply(a);
        assertEquals(expected.dtype(), actual.dtype(), fixture + " dtype");
        assertParity(fixture, expected, actual);
    }

    @Test
    void reductionsWithDimsAndKeepDim() {
        check("sum_02_keep", t -> t.sum(new long[] {0, 2}, true));
        check("sum_1", t -> t.sum(new long[] {1}, false));
        check("mean_neg1", t -> t.mean(new long[] {-1}, false));
        check("amax_1_keep", t -> t.amax(new long[] {1}, true));
        check("amin_02", t -> t.amin(new long[] {0, 2}, false));
        check("var_2", t -> t.var(new long[] {2}, false));
        check("std_0_keep", t -> t.std(new long[] {0}, true));
        check("norm_12", t -> t.norm(new long[] {1, 2}, false));
        check("logsumexp_2", t -> t.logsumexp(new long[] {2}, false));
        check("argmax_2", t -> t.argmax(2, false));
        check("argmin_1_keep", t -> t.argmin(1, true));
        check("var_all", Tensor::var);
        check("std_all", Tensor::std);
        check("norm_all", Tensor::norm);
    }

    /** Exact: small integers, so every partial sum and product is exact in any order (sqrt is correctly rounded). */
    @Test
    void fullReductionsInClosedForm() {
        Tensor t = Tensor.of(new double[] {1, -2, 3, 4}, 2, 2);
        assertEquals(6, t.sum().item());
        assertEquals(1.5, t.mean().item());
        assertEquals(4, t.max().item());
        assertEquals(-2, t.min().item());
        assertEquals(-24, t.prod().item());
        assertEquals(3, t.argmax().item());
        assertEquals(Math.sqrt(30), t.norm().item(), 1e-15);
        assertEquals(0, t.gt(3.5).any().item() - 1);
        assertEquals(0, t.gt(-3).all().item() - 1);
        assertArrayEquals(new long[0], t.sum().shape(), "a full reduction is 0-d");
    }

    @Test
    void joiningAndIndexing() {
        check("cat_1", t -> Tensor.cat(List.of(t, t.mul(2)), 1));
        check("stack_neg1", t -> Tensor.stack(List.of(t, t.neg(), t.add(1)), -1));
        check("select_1_2", t -> t.select(1, 2));
        check("narrow_2_1_3", t -> t.narrow(2, 1, 3));
        check("index_select_2", t -> t.indexSelect(2, Tensor.of(new long[] {4, 0, 2, 2}, 4)));
        check("permute_201", t -> t.permute(2, 0, 1).contiguous());
        check("cumsum_1", t -> t.cumsum(1));
        check("sort_2_desc", t -> t.sort(2, true));
        // exact by construction: two views of the same elements, no arithmetic
        assertExactlyEqual("get/slice", a.select(0, 1).narrow(0, 1, 2), a.get(1).slice(1, 3));
    }

    @Test
    void narrowIsAView() {
        Tensor t = Tensor.zeros(4);
        t.narrow(0, 1, 2).fillInPlace(7);
        assertArrayEquals(new float[] {0, 7, 7, 0}, t.toFloatArray());
    }

    @Test
    void clampWithNaNBounds() {
        check("clamp_lo", t -> t.clamp(-1.0, Double.NaN));
        check("clamp_hi", t -> t.clamp(Double.NaN, 2.0));
        check("clamp_both", t -> t.clamp(-1.0, 2.0));
        assertExactlyEqual("both bounds NaN: unchanged" /* no arithmetic: exact */, a, a.clamp(Double.NaN, Double.NaN));
        check("clamp_lo", t -> t.clampMin(-1.0));
        check("clamp_hi", t -> t.clampMax(2.0));
    }

    @Test
    void whereAndComparisons() {
        check("where_pos", t -> Tensor.where(t.gt(0), t, t.mul(10)));
        Tensor x = Tensor.of(1f, 5f, 3f);
        assertEquals(DType.BOOL, x.gt(2).dtype());
        assertArrayEquals(new byte[] {0, 1, 1}, x.gt(2).toByteArray());
        assertArrayEquals(new byte[] {1, 0, 0}, x.le(Tensor.of(2f, 4f, 2f)).toByteArray());
    }

    @Test
    void dtypeConversions() {
        check("to_int64", t -> t.to(DType.INT64));
        Tensor x = Tensor.of(new double[] {1.75, -2.5, 3e9}, 3);
        assertArrayEquals(new long[] {1, -2, 3_000_000_000L}, x.to(DType.INT64).toLongArray());
        assertArrayEquals(new float[] {1.75f, -2.5f, 3e9f}, x.to(DType.FLOAT32).toFloatArray());
        assertEquals(DType.FLOAT16, x.to(DType.FLOAT16).dtype());
        assertArrayEquals(new double[] {1.75, -2.5}, Tensor.of(new double[] {1.75, -2.5}, 2).to(DType.BFLOAT16).toDoubleArray());
        assertArrayEquals(new int[] {1, -2}, Tensor.of(new double[] {1.9, -2.9}, 2).toIntArray(), "truncation toward 0");
        assertArrayEquals(new byte[] {0, 1, 1}, Tensor.of(0f, 0.5f, -3f).to(DType.BOOL).toByteArray());
    }

    @Test
    void itemAndHostCopies() {
        assertEquals(-3.25, Tensor.scalar(-3.25).item());
        assertEquals(Long.MAX_VALUE, Tensor.of(new long[] {Long.MAX_VALUE}, 1).toLongArray()[0]);
        Tensor t = Tensor.arange(0, 6, 1, DType.INT32, Device.CPU).reshape(2, 3);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, t.toIntArray());
        assertArrayEquals(new int[] {0, 3, 1, 4, 2, 5}, t.transpose(0, 1).toIntArray(), "C order of a transposed view");
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, t.toDoubleArray());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertEquals(6, t.numel());
        assertEquals(Device.CPU, t.device());
        assertEquals(5.0, t.select(0, 1).select(0, 2).item());
    }

    @Test
    void symmetricEigenDecomposition() {
        Tensor s = npy("ops/sym.npy");
        Tensor[] vv = s.eigh();
        Tensor values = vv[0], vectors = vv[1];
        assertParity("eigenvalues", npy("ops/sym_eigvals.npy"), values);
        assertParity("eigvalsh", npy("ops/sym_eigvals.npy"), s.eigvalsh());
        double[] l = values.toDoubleArray();
        assertTrue(l[0] <= l[1] && l[1] <= l[2], "ascending");
        // A V = V diag(l), V^T V = I
        assertClose("A V = V L", s.matmul(vectors), vectors.mul(values.unsqueeze(0)), 1e-12, 1e-12);
        assertClose("V^T V = I", Tensor.of(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3),
                vectors.transpose(0, 1).matmul(vectors), 0, 1e-12);
    }

    /** Exact: x^3, 3x^2, 6x, 2xw of these inputs are small dyadic rationals, exact in float64 in any order. */
    @Test
    void autogradGradients() {
        Tensor x = Tensor.of(new double[] {1, -2, 0.5}, 3).requiresGrad(true);
        Tensor y = x.pow(3).sum();
        Tensor[] g = Tensor.gradients(List.of(y), null, List.of(x), true, true);
        assertExactlyEqual("d/dx sum x^3 = 3x^2", Tensor.of(new double[] {3, 12, 0.75}, 3), g[0]);
        assertTrue(g[0].requiresGrad(), "create_graph keeps the graph of the gradient");
        Tensor[] gg = Tensor.gradients(List.of(g[0].sum()), null, List.of(x), false, false);
        assertExactlyEqual("second derivative 6x", Tensor.of(new double[] {6, -12, 3}, 3), gg[0]);

        Tensor unused = Tensor.ones(DType.FLOAT64, Device.CPU, 3).requiresGrad(true);
        Tensor[] partly = Tensor.gradients(List.of(x.mul(x).sum()), null, List.of(x, unused), false, false);
        assertExactlyEqual("d/dx sum x^2", Tensor.of(new double[] {2, -4, 1}, 3), partly[0]);
        assertNull(partly[1], "an unused input gets null");

        Tensor w = Tensor.of(new double[] {1, 2, 3}, 3);
        Tensor[] vjp = Tensor.gradients(List.of(x.mul(x)), List.of(w), List.of(x), false, false);
        assertExactlyEqual("vector-Jacobian product 2 x w", Tensor.of(new double[] {2, -8, 3}, 3), vjp[0]);
    }

    @Test
    void backwardAccumulatesAndZeroGradDrops() {
        Tensor x = Tensor.of(new double[] {2, 3}, 2).requiresGrad(true);
        assertNull(x.grad());
        x.mul(x).sum().backward();
        x.mul(x).sum().backward();
        assertExactlyEqual("two backward passes accumulate 2 * 2x", Tensor.of(new double[] {8, 12}, 2), x.grad());
        x.zeroGrad();
        assertNull(x.grad());
        assertTrue(x.isLeaf());
        assertFalse(x.mul(2).isLeaf());
    }

    /** f(p) = sum((p - target)^2): the gradient is known, so Adam steps are reproducible. */
    private static void computeGrad(Tensor p) {
        try (Scope s = Scope.open()) {
            p.sub(Tensor.of(new double[] {1, -1, 2, 0.5}, 4)).square().sum().backward();
        }
    }

    private static void steps(Adam adam, Tensor p, int n) {
        for (int i = 0; i < n; i++) {
            adam.zeroGrad();
            computeGrad(p);
            adam.step();
        }
    }

    @Test
    void adamStateRoundTripGivesIdenticalSteps() {
        Adam.Options o = Adam.Options.lr(0.05).betas(0.8, 0.99).weightDecay(1e-3);
        Tensor p = Tensor.zeros(DType.FLOAT64, Device.CPU, 4).requiresGrad(true);
        try (Adam adam = new Adam(List.of(p), o)) {
            steps(adam, p, 4);
            byte[] state = adam.saveState();
            Tensor resumed = p.detach().copy().requiresGrad(true);
            Tensor fresh = p.detach().copy().requiresGrad(true);
            try (Adam restored = new Adam(List.of(resumed), o); Adam unrestored = new Adam(List.of(fresh), o)) {
                restored.loadState(state);
                steps(adam, p, 3);
                steps(restored, resumed, 3);
                steps(unrestored, fresh, 3);
                // exact by construction: the same element-wise Adam ops on the same values in one process
                assertExactlyEqual("trajectory after loadState", p, resumed);
                assertFalse(p.allClose(fresh, 0, 0), "an optimizer without the state must step differently");
            }
        }
    }

    @Test
    void setLrChangesTheStepSize() {
        Tensor p = Tensor.of(new double[] {0, 0, 0, 0}, 4).requiresGrad(true);
        try (Adam adam = new Adam(List.of(p), Adam.Options.lr(0.1))) {
            assertEquals(0.1, adam.lr());
            adam.setLr(0.0);
            assertEquals(0.0, adam.lr());
            steps(adam, p, 1);
            assertExactlyEqual("lr 0 leaves the parameters", Tensor.zeros(DType.FLOAT64, Device.CPU, 4), p);

            adam.setLr(0.25);
            assertEquals(0.25, adam.lr());
            Tensor before = p.detach().copy();
            steps(adam, p, 1);
            // Adam's second step on a constant gradient g moves each parameter by about lr * sign(-g)
            double[] moved = p.detach().sub(before).toDoubleArray();
            double[] target = {1, -1, 2, 0.5};
            for (int i = 0; i < 4; i++) assertEquals(0.25 * Math.signum(target[i]), moved[i], 1e-6, "step of parameter " + i);
        }
    }
}
