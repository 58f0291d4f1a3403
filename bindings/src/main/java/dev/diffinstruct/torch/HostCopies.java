package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Function;

/**
 * The native side of what a {@link Tensor} hands back to the JVM: its elements as Java arrays or
 * in host memory, the value of a one-element tensor, a yes/no check, or its printed form.
 * Tensor keeps the public methods as one-line delegates.
 */
final class HostCopies {
    static {
        Native.ensureLoaded();
    }

    private HostCopies() {}

    /** All elements of {@code t} converted to {@code dt}, through a temporary native buffer read by {@code read}. */
    private static <A> A copyOut(Tensor t, DType dt, Function<MemorySegment, A> read) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dst = a.allocate(t.numel() * dt.bytes, 8);
            copyTo(t, dst, dt);
            return read.apply(dst);
        }
    }

    static float[] toFloatArray(Tensor t) { return copyOut(t, DType.FLOAT32, s -> s.toArray(ValueLayout.JAVA_FLOAT)); }
    static double[] toDoubleArray(Tensor t) { return copyOut(t, DType.FLOAT64, s -> s.toArray(ValueLayout.JAVA_DOUBLE)); }
    static long[] toLongArray(Tensor t) { return copyOut(t, DType.INT64, s -> s.toArray(ValueLayout.JAVA_LONG)); }
    static int[] toIntArray(Tensor t) { return copyOut(t, DType.INT32, s -> s.toArray(ValueLayout.JAVA_INT)); }
    static byte[] toByteArray(Tensor t) { return copyOut(t, DType.UINT8, s -> s.toArray(ValueLayout.JAVA_BYTE)); }

    static void copyTo(Tensor t, MemorySegment dst, DType dtype) {
        Native.check(Dishim.dt_tensor_copy_to(t.h(), dst, dst.byteSize(), dtype.code), "copy to host");
    }

    static double item(Tensor t) {
        MemorySegment out = Native.scratch().doubles;
        Native.check(Dishim.dt_tensor_item(t.h(), out), "item");
        return out.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    static boolean allFinite(Tensor t) {
        MemorySegment out = Native.scratch().ints;
        Native.check(Dishim.dt_all_finite(t.h(), out), "isfinite");
        return out.get(ValueLayout.JAVA_INT, 0) == 1;
    }

    static boolean allClose(Tensor t, Tensor other, double rtol, double atol) {
        MemorySegment out = Native.scratch().ints;
        Native.check(Dishim.dt_allclose(t.h(), other.h(), rtol, atol, out), "allclose");
        return out.get(ValueLayout.JAVA_INT, 0) == 1;
    }

    static String format(Tensor t) {
        return Native.takeString(Dishim.dt_tensor_to_string(t.h()), "format");
    }
}
