package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Shared helpers of the bindings tests: fixtures, tolerant comparisons, the Python reference. */
final class TestSupport {
    /**
     * Relative tolerance of float32 Java-vs-PyTorch comparisons. The two processes may differ in
     * thread count (reduction splits), in the CPU kernel libtorch dispatches to (AVX2 / AVX-512)
     * and even in the libtorch build (a LibTorch 2.x for Java, Debian's python3-torch 1.13), so
     * matmul / conv / reduction results agree only to float32 rounding grown with the reduction
     * length (k * 6e-8 for k <= 256 here, over up to 3 Adam steps): 1e-5 covers that; a wrong
     * op, layout or Adam formula differs by 1e-3 or more.
     */
    static final double PARITY_RTOL = 1e-5;
    /**
     * Absolute floor of the float32 comparisons, relative to the largest expected magnitude:
     * an element that came out of cancellation carries the rounding error of its terms, which
     * are of the size of the largest element (float32: ~k * 6e-8 of it).
     */
    static final double PARITY_ATOL_OF_MAX = 1e-5;
    /** The same for float64 results (rounding ~k * 1.1e-16; these are reductions of <= 60 terms). */
    static final double PARITY_RTOL_F64 = 1e-10;
    static final double PARITY_ATOL_OF_MAX_F64 = 1e-10;

    private TestSupport() {}

    // ---- fixtures -------------------------------------------------------------------------------

    static Path fixtures() {
        return Path.of(property("fixtures.dir", "the folder make_fixtures.py writes"));
    }

    /** A fixture file, which must exist (make_fixtures.py writes it). */
    static Path fixture(String relative) {
        Path p = fixtures().resolve(relative);
        assertTrue(Files.exists(p), "missing fixture " + p + " (rerun bindings/src/test/python/make_fixtures.py)");
        return p;
    }

    /** Reads a fixture .npy; the tensor joins the current scope. */
    static Tensor npy(String relative) {
        return Npy.read(fixture(relative));
    }

    static List<String> lines(Path p) {
        try {
            List<String> out = new ArrayList<>();
            for (String l : Files.readAllLines(p)) if (!l.isBlank()) out.add(l.strip());
            return out;
        } catch (IOException e) {
            throw new AssertionError("cannot read " + p, e);
        }
    }

    static String property(String name, String what) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank())
            fail("system property " + name + " (" + what + ") is not set: run the tests through Maven");
        return v;
    }

    // ---- comparisons ----------------------------------------------------------------------------

    /**
     * Java against PyTorch: {@link #PARITY_RTOL}, with a floor of {@link #PARITY_ATOL_OF_MAX} times
     * max|expected| (float64: the _F64 pair; integer and boolean results: exact).
     */
    static void assertParity(String what, Tensor expected, Tensor actual) {
        double[] e = expected.toDoubleArray();
        double max = 0;
        for (double v : e) if (Double.isFinite(v)) max = Math.max(max, Math.abs(v));
        DType t = expected.dtype();
        double rtol = !t.isFloatingPoint() ? 0 : t == DType.FLOAT64 ? PARITY_RTOL_F64 : PARITY_RTOL;
        double atolOfMax = !t.isFloatingPoint() ? 0 : t == DType.FLOAT64 ? PARITY_ATOL_OF_MAX_F64 : PARITY_ATOL_OF_MAX;
        assertClose(what, expected.shape(), e, actual, rtol, atolOfMax * max);
    }

    /** Bit-for-bit equal values (as doubles) and equal shapes. */
    static void assertExactlyEqual(String what, Tensor expected, Tensor actual) {
        assertClose(what, expected, actual, 0, 0);
    }

    /** |actual - expected| <= atol + rtol * |expected| element-wise, equal shapes; NaN matches NaN only. */
    static void assertClose(String what, Tensor expected, Tensor actual, double rtol, double atol) {
        assertClose(what, expected.shape(), expected.toDoubleArray(), actual, rtol, atol);
    }

    static void assertClose(String what, long[] expectedShape, double[] expected, Tensor actual, double rtol, double atol) {
        assertArrayEquals(expectedShape, actual.shape(), () -> what + ": shape " + Arrays.toString(actual.shape())
                + ", expected " + Arrays.toString(expectedShape));
        assertClose(what, expected, actual.toDoubleArray(), rtol, atol, expectedShape);
    }

    static void assertClose(String what, double[] expected, double[] actual, double rtol, double atol) {
        assertClose(what, expected, actual, rtol, atol, new long[] {expected.length});
    }

    private static void assertClose(String what, double[] e, double[] a, double rtol, double atol, long[] shape) {
        assertEquals(e.length, a.length, what + ": element count");
        int worst = -1;
        double worstExcess = 0; // |diff| / allowed; > 1 fails
        for (int i = 0; i < e.length; i++) {
            double excess;
            if (Double.isNaN(e[i]) || Double.isNaN(a[i])) {
                excess = Double.isNaN(e[i]) && Double.isNaN(a[i]) ? 0 : Double.POSITIVE_INFINITY;
            } else if (e[i] == a[i]) {
                excess = 0; // also equal infinities
            } else {
                double allowed = atol + rtol * Math.abs(e[i]);
                excess = allowed == 0 ? Double.POSITIVE_INFINITY : Math.abs(a[i] - e[i]) / allowed;
            }
            if (worst < 0 || excess > worstExcess) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0 && worstExcess > 1) {
            fail(String.format("%s: worst element %s (of %d) is %s, expected %s: |diff| %.3g > allowed %.3g"
                            + " (rtol %.1g, atol %.3g)", what, index(worst, shape), e.length, a[worst], e[worst],
                    Math.abs(a[worst] - e[worst]), atol + rtol * Math.abs(e[worst]), rtol, atol));
        }
    }

    /** The multi-dimensional index of flat position i in a C-order array of this shape. */
    private static String index(int i, long[] shape) {
        long[] idx = new long[shape.length];
        long rest = i;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 0) return "[" + i + "]";
            idx[d] = rest % shape[d];
            rest /= shape[d];
        }
        return Arrays.toString(idx);
    }

    // ---- the Python reference -------------------------------------------------------------------

    /** Runs {@code python -c code args...} and returns its stdout; fails with its stderr if it exits non-zero. */
    static String python(String code, String... args) {
        List<String> cmd = new ArrayList<>(List.of(property("python", "the Python with torch"), "-c", code));
        cmd.addAll(List.of(args));
        try {
            Path err = Files.createTempFile("python", ".err");
            try {
                Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    fail("python did not finish in 120 s");
                }
                if (p.exitValue() != 0)
                    fail("python exited with " + p.exitValue() + ":\n" + Files.readString(err) + "\nstdout:\n" + out);
                return out;
            } finally {
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot run python", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    // ---- process facts --------------------------------------------------------------------------

    /** Live native tensor handles ({@link Torch#liveHandles()}[0]). */
    static long liveTensors() {
        return Torch.liveHandles()[0];
    }

    /** Resident set size of this process in bytes (VmRSS of /proc/self/status). */
    static long rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    String[] parts = line.substring(6).strip().split("\\s+");
                    assertEquals("kB", parts[1], "unit of VmRSS");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read /proc/self/status", e);
        }
        throw new AssertionError("no VmRSS line in /proc/self/status");
    }
}
