package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * A long loop of small operations, each step in its own {@link Scope}, must run in flat memory.
 *
 * <p>The loop runs in a child JVM whose heap is fixed and pre-touched, so that its resident set
 * moves with native memory only, not with the collector growing or shrinking the Java heap (in
 * this JVM that alone swings RSS by tens of MB). A leak of one [64, 2] float tensor per step costs
 * 512 data bytes plus TensorImpl, storage and handle: more than 50 MB over the measured steps,
 * which {@link #aLeakOfOneTensorPerStepBreaksTheBound} checks against the bound.
 */
class MemoryFlatTest {
    static final int WARMUP_STEPS = 10_000;
    static final int STEPS = 100_000;
    static final long MAX_GROWTH_BYTES = 5L << 20;

    @Test
    void hundredThousandScopedStepsRunInFlatMemory() {
        Map<String, Long> r = runProbe("flat");
        long growth = r.get("rss_end") - r.get("rss_warm");
        long measured = STEPS - WARMUP_STEPS;
        System.out.printf("MemoryFlatTest: %d steps (%d warm-up) of small scoped ops; RSS after warm-up %.1f MB,"
                        + " at the end %.1f MB: growth %+.2f MB over %d steps (%+.1f bytes/step); %.1f us/step%n",
                STEPS, WARMUP_STEPS, r.get("rss_warm") / 1e6, r.get("rss_end") / 1e6, growth / 1e6, measured,
                (double) growth / measured, r.get("nanos") / 1e3 / measured);
        assertEquals(r.get("handles_start"), r.get("handles_end"), "tensor handles must return to the baseline");
        assertTrue(growth < MAX_GROWTH_BYTES, "resident memory grew by " + growth / 1e6 + " MB over " + measured
                + " steps (limit " + MAX_GROWTH_BYTES / 1e6 + " MB)");
    }

    /** The measurement can fail: the same loop keeping one [64, 2] tensor per step breaks the bound many times over. */
    @Test
    void aLeakOfOneTensorPerStepBreaksTheBound() {
        Map<String, Long> r = runProbe("leak");
        long growth = r.get("rss_end") - r.get("rss_warm");
        System.out.printf("MemoryFlatTest: leaking one [64, 2] tensor per step grew RSS by %.1f MB over %d steps%n",
                growth / 1e6, STEPS - WARMUP_STEPS);
        assertEquals(r.get("handles_start") + STEPS - WARMUP_STEPS, r.get("handles_end"), "one handle kept per step");
        assertTrue(growth > 5 * MAX_GROWTH_BYTES, "a leak of one tensor per step grew RSS by only " + growth / 1e6 + " MB");
    }

    /** Runs {@link Probe} in a child JVM with a fixed heap and returns its key=value report. */
    private static Map<String, Long> runProbe(String mode) {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Xms64m", "-Xmx64m", "-XX:+AlwaysPreTouch",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        String nativeOverride = System.getProperty(Native.OVERRIDE_PROPERTY);
        if (nativeOverride != null) cmd.add("-D" + Native.OVERRIDE_PROPERTY + "=" + nativeOverride);
        cmd.addAll(List.of(Probe.class.getName(), mode));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("the memory probe did not finish in 60 s");
            }
            if (p.exitValue() != 0) fail("the memory probe exited with " + p.exitValue() + ":\n" + out);
            Map<String, Long> r = new HashMap<>();
            for (String line : out.strip().lines().toList()) {
                String[] kv = line.split("=", 2);
                if (kv.length == 2 && kv[1].matches("-?\\d+")) r.put(kv[0], Long.parseLong(kv[1]));
            }
            for (String k : List.of("rss_warm", "rss_end", "handles_start", "handles_end", "nanos"))
                assertTrue(r.containsKey(k), "the probe did not report " + k + ":\n" + out);
            return r;
        } catch (IOException e) {
            throw new AssertionError("cannot start " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The loop itself (the child JVM's main class): "flat" frees every step, "leak" keeps one tensor per step. */
    public static final class Probe {
        public static void main(String[] args) {
            boolean leak = args[0].equals("leak");
            List<Tensor> kept = new ArrayList<>();
            long handlesStart = TestSupport.liveTensors();
            try (Generator g = new Generator(11); Tensor x = Tensor.randn(g, 64, 2); Tensor acc = Tensor.zeros(64, 2)) {
                run(x, acc, WARMUP_STEPS, null);
                System.gc();
                long rssWarm = TestSupport.rssBytes();
                long t0 = System.nanoTime();
                run(x, acc, STEPS - WARMUP_STEPS, leak ? kept : null);
                long nanos = System.nanoTime() - t0;
                System.gc();
                long rssEnd = TestSupport.rssBytes();
                if (!acc.allFinite()) throw new IllegalStateException("the loop produced non-finite values");
                System.out.println("rss_warm=" + rssWarm);
                System.out.println("rss_end=" + rssEnd);
                System.out.println("nanos=" + nanos);
            }
            System.out.println("handles_start=" + handlesStart);
            System.out.println("handles_end=" + TestSupport.liveTensors());
            for (Tensor t : kept) t.close();
        }

        /** Element-wise ops, a reduction and an in-place update per step; {@code keep} collects one result per step. */
        static void run(Tensor x, Tensor acc, int steps, List<Tensor> keep) {
            for (int i = 0; i < steps; i++) {
                try (Scope s = Scope.open()) {
                    Tensor y = x.mul(0.5).add(x.square()).tanh();
                    Tensor z = y.sub(y.mean()).mul(1e-6);
                    acc.mulInPlace(0.9).addInPlace(z);
                    if (keep != null) keep.add(s.keep(y));
                }
            }
        }
    }
}
