package dev.diffinstruct.bench;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;

import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * Per-operation overhead of the FFM path: a tiny op whose libtorch work is negligible, so the time
 * is our binding cost plus libtorch's dispatch. bench/op_overhead.py times the same ops in Python.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class OpOverheadBench {
    Tensor a;
    Tensor b;
    Tensor one;
    Scope scope;

    @Setup(Level.Trial)
    public void setup() {
        a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        b = Tensor.of(new float[] {5, 6, 7, 8}, 2, 2);
        one = Tensor.of(new float[] {3}, 1);
    }

    // Each invocation's result is freed by a scope closed per iteration batch, as a training step would.
    @Setup(Level.Iteration)
    public void openScope() {
        scope = Scope.open();
    }

    @TearDown(Level.Iteration)
    public void closeScope() {
        scope.close();
    }

    @TearDown(Level.Trial)
    public void teardown() {
        a.close();
        b.close();
        one.close();
    }

    /** add of two [2,2] tensors, result freed at once (close), the cost a user pays per op. */
    @Benchmark
    public void add2x2(Blackhole bh) {
        try (Tensor c = a.add(b)) {
            bh.consume(c);
        }
    }

    /** item() of a one-element tensor: a host read. */
    @Benchmark
    public double item() {
        return one.item();
    }
}
