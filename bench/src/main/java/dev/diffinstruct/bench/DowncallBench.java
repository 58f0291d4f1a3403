package dev.diffinstruct.bench;

import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.ffi.Dishim;
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

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;

/**
 * What a hand-written critical downcall ({@code Linker.Option.critical}) would buy over jextract's
 * generated one: add of two [2,2] tensors on raw handles (no Tensor object, no scope) and free,
 * through the generated bindings vs through critical handles to the same two symbols.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class DowncallBench {
    static final MethodHandle BINARY, FREE;

    static {
        try (Tensor t = Tensor.zeros(1)) {
            // loads the shim
        }
        Linker l = Linker.nativeLinker();
        SymbolLookup lookup = SymbolLookup.loaderLookup();
        BINARY = l.downcallHandle(lookup.find("dt_binary").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS),
                Linker.Option.critical(false));
        FREE = l.downcallHandle(lookup.find("dt_tensor_free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS), Linker.Option.critical(false));
    }

    MemorySegment a, b;

    @Setup(Level.Trial)
    public void setup() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment shape = arena.allocateFrom(ValueLayout.JAVA_LONG, 2, 2);
            a = Dishim.dt_ones(shape, 2, Dishim.DT_FLOAT32(), arena.allocateFrom("cpu"));
            b = Dishim.dt_ones(shape, 2, Dishim.DT_FLOAT32(), arena.allocateFrom("cpu"));
        }
    }

    @TearDown(Level.Trial)
    public void teardown() {
        Dishim.dt_tensor_free(a);
        Dishim.dt_tensor_free(b);
    }

    @Benchmark
    public long generated() {
        MemorySegment c = Dishim.dt_binary(Dishim.DT_OP_ADD(), a, b);
        Dishim.dt_tensor_free(c);
        return c.address();
    }

    @Benchmark
    public long critical() throws Throwable {
        MemorySegment c = (MemorySegment) BINARY.invokeExact(0, a, b);
        FREE.invokeExact(c);
        return c.address();
    }
}
