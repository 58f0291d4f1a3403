package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * The native side of {@link Tensor}'s static factories: tensors made from Java arrays, host memory,
 * a shape and a value, a range, a list of tensors (cat, stack), or a generator. Tensor keeps the public entry points (and their
 * defaults: float32 on the CPU) as one-line delegates, so that its own file holds the operations.
 */
final class TensorFactory {
    static {
        Native.ensureLoaded();
    }

    private TensorFactory() {}

    // ---- from Java arrays and host memory -------------------------------------------------------

    /** Copies a Java array into a new CPU tensor through a temporary native copy. */
    private static Tensor fromArray(Function<Arena, MemorySegment> copy, DType dtype, long[] shape) {
        try (Arena a = Arena.ofConfined()) {
            return fromData(copy.apply(a), dtype, shape, Device.CPU);
        }
    }

    static Tensor of(float[] data, long[] shape) {
        return fromArray(a -> a.allocateFrom(ValueLayout.JAVA_FLOAT, data), DType.FLOAT32, shape);
    }

    static Tensor of(double[] data, long[] shape) {
        return fromArray(a -> a.allocateFrom(ValueLayout.JAVA_DOUBLE, data), DType.FLOAT64, shape);
    }

    static Tensor of(long[] data, long[] shape) {
        return fromArray(a -> a.allocateFrom(ValueLayout.JAVA_LONG, data), DType.INT64, shape);
    }

    static Tensor of(int[] data, long[] shape) {
        return fromArray(a -> a.allocateFrom(ValueLayout.JAVA_INT, data), DType.INT32, shape);
    }

    static Tensor of(byte[] data, long[] shape) {
        return fromArray(a -> a.allocateFrom(ValueLayout.JAVA_BYTE, data), DType.UINT8, shape);
    }

    static Tensor fromData(MemorySegment data, DType dtype, long[] shape, Device device) {
        Native.Scratch s = Native.scratch();
        return Tensor.wrap(Dishim.dt_tensor_from_data(data, data.byteSize(), dtype.code, s.shape(shape), shape.length,
                Native.cString(device)), "tensor from data " + Arrays.toString(shape));
    }

    // ---- by shape and value ---------------------------------------------------------------------

    static Tensor scalar(double v, DType dtype, Device device) {
        return Tensor.wrap(Dishim.dt_scalar_tensor(v, dtype.code, Native.cString(device)), "scalar_tensor");
    }

    static Tensor zeros(DType dtype, Device device, long[] shape) {
        return Tensor.wrap(Dishim.dt_zeros(Native.scratch().shape(shape), shape.length, dtype.code, Native.cString(device)), "zeros");
    }

    static Tensor ones(DType dtype, Device device, long[] shape) {
        return Tensor.wrap(Dishim.dt_ones(Native.scratch().shape(shape), shape.length, dtype.code, Native.cString(device)), "ones");
    }

    static Tensor full(double value, DType dtype, Device device, long[] shape) {
        return Tensor.wrap(Dishim.dt_full(Native.scratch().shape(shape), shape.length, value, dtype.code, Native.cString(device)), "full");
    }

    static Tensor arange(double start, double end, double step, DType dtype, Device device) {
        return Tensor.wrap(Dishim.dt_arange(start, end, step, dtype.code, Native.cString(device)), "arange");
    }

    static Tensor linspace(double start, double end, long steps, DType dtype, Device device) {
        return Tensor.wrap(Dishim.dt_linspace(start, end, steps, dtype.code, Native.cString(device)), "linspace");
    }

    // ---- joining tensors -------------------------------------------------------------------------

    static Tensor cat(List<Tensor> ts, long dim) {
        try (Arena a = Arena.ofConfined()) {
            return Tensor.wrap(Dishim.dt_cat(Native.handles(a, ts), ts.size(), dim), "cat");
        }
    }

    static Tensor stack(List<Tensor> ts, long dim) {
        try (Arena a = Arena.ofConfined()) {
            return Tensor.wrap(Dishim.dt_stack(Native.handles(a, ts), ts.size(), dim), "stack");
        }
    }

    // ---- random ---------------------------------------------------------------------------------

    /** Where samples of {@code g} are made when no device is given: its own (null: libtorch's default, the CPU). */
    static Device deviceOf(Generator g) {
        return g == null ? Device.CPU : g.device();
    }

    static Tensor randn(Generator g, DType dtype, Device device, long[] shape) {
        return Tensor.wrap(Dishim.dt_randn(Native.scratch().shape(shape), shape.length, dtype.code, Native.cString(device),
                Generator.h(g)), "randn");
    }

    static Tensor rand(Generator g, DType dtype, Device device, long[] shape) {
        return Tensor.wrap(Dishim.dt_rand(Native.scratch().shape(shape), shape.length, dtype.code, Native.cString(device),
                Generator.h(g)), "rand");
    }

    static Tensor randint(Generator g, long low, long high, long[] shape) {
        return Tensor.wrap(Dishim.dt_randint(low, high, Native.scratch().shape(shape), shape.length,
                Native.cString(deviceOf(g)), Generator.h(g)), "randint");
    }
}
