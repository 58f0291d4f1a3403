package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * A libtorch tensor. Each instance owns one native handle: it is freed by {@link #close()} or by
 * the {@link Scope} that was open when it was made. Every operation is one call into libtorch and
 * returns a new tensor (in-place operations end in {@code InPlace} and return this). Groups whose
 * native side takes more than one call live in {@link TensorFactory}, {@link HostCopies} and
 * {@link Autograd}; this class keeps their public entry points.
 */
public class Tensor implements AutoCloseable {
    static {
        Native.ensureLoaded();
    }

    private MemorySegment h;
    private long[] shape; // cached: no exposed operation resizes a tensor in place
    Scope owner;
    int slot = -1;

    Tensor(MemorySegment handle) {
        this.h = handle;
        Scope.register(this);
    }

    static Tensor wrap(MemorySegment p, String op) {
        return new Tensor(Native.handle(p, op));
    }

    /** The native handle; refused once closed. */
    MemorySegment h() {
        MemorySegment p = h;
        if (p == null) throw new IllegalStateException("tensor is closed");
        return p;
    }

    public boolean isClosed() {
        return h == null;
    }

    @Override
    public void close() {
        if (h == null) return;
        Scope.unregister(this);
        free();
    }

    void free() {
        MemorySegment p = h;
        h = null;
        if (p != null) Dishim.dt_tensor_free(p);
    }

    // ---- creation (defaults: float32 on the CPU, or on the generator's device) -------------------

    public static Tensor of(float[] data, long... shape) { return TensorFactory.of(data, shape); }
    public static Tensor of(double[] data, long... shape) { return TensorFactory.of(data, shape); }
    public static Tensor of(long[] data, long... shape) { return TensorFactory.of(data, shape); }
    public static Tensor of(int[] data, long... shape) { return TensorFactory.of(data, shape); }
    public static Tensor of(byte[] data, long... shape) { return TensorFactory.of(data, shape); }
    /** A 1-D float32 tensor. */
    public static Tensor of(float... data) { return of(data, data.length); }

    /** Copies host memory holding elements of {@code dtype} into a new tensor on {@code device}. */
    public static Tensor fromData(MemorySegment data, DType dtype, long[] shape, Device device) {
        return TensorFactory.fromData(data, dtype, shape, device);
    }

    public static Tensor scalar(double v) { return scalar(v, DType.FLOAT32, Device.CPU); }
    public static Tensor scalar(double v, DType dtype, Device device) { return TensorFactory.scalar(v, dtype, device); }
    public static Tensor zeros(long... shape) { return zeros(DType.FLOAT32, Device.CPU, shape); }
    public static Tensor zeros(DType dtype, Device device, long... shape) { return TensorFactory.zeros(dtype, device, shape); }
    public static Tensor ones(long... shape) { return ones(DType.FLOAT32, Device.CPU, shape); }
    public static Tensor ones(DType dtype, Device device, long... shape) { return TensorFactory.ones(dtype, device, shape); }
    public static Tensor full(double value, long... shape) { return full(value, DType.FLOAT32, Device.CPU, shape); }
    public static Tensor full(double value, DType dtype, Device device, long... shape) {
        return TensorFactory.full(value, dtype, device, shape);
    }

    /** Standard normal float32 samples from {@code g} (null: libtorch's default generator). */
    public static Tensor randn(Generator g, long... shape) { return randn(g, DType.FLOAT32, TensorFactory.deviceOf(g), shape); }
    public static Tensor randn(Generator g, DType dtype, Device device, long... shape) {
        return TensorFactory.randn(g, dtype, device, shape);
    }

    /** Uniform [0, 1) float32 samples from {@code g} (null: libtorch's default generator). */
    public static Tensor rand(Generator g, long... shape) { return rand(g, DType.FLOAT32, TensorFactory.deviceOf(g), shape); }
    public static Tensor rand(Generator g, DType dtype, Device device, long... shape) {
        return TensorFactory.rand(g, dtype, device, shape);
    }

    /** Uniform int64 samples in [low, high). */
    public static Tensor randint(Generator g, long low, long high, long... shape) { return TensorFactory.randint(g, low, high, shape); }

    public static Tensor arange(double start, double end, double step, DType dtype, Device device) {
        return TensorFactory.arange(start, end, step, dtype, device);
    }

    public static Tensor linspace(double start, double end, long steps, DType dtype, Device device) {
        return TensorFactory.linspace(start, end, steps, dtype, device);
    }

    public Tensor zerosLike() { return wrap(Dishim.dt_zeros_like(h()), "zeros_like"); }
    /** Standard normal samples of this tensor's shape, dtype and device. */
    public Tensor randnLike(Generator g) { return wrap(Dishim.dt_randn_like(h(), Generator.h(g)), "randn_like"); }

    // ---- metadata ------------------------------------------------------------------------------

    public long[] shape() {
        long[] s = shape;
        if (s == null) {
            Native.Scratch sc = Native.scratch();
            int n = Native.check(Dishim.dt_tensor_shape(h(), sc.longs, Native.SCRATCH_LONGS), "shape");
            s = sc.longs.asSlice(0, 8L * n).toArray(ValueLayout.JAVA_LONG);
            shape = s;
        }
        return s.clone();
    }

    public long size(int dim) {
        long[] s = shape();
        return s[dim < 0 ? dim + s.length : dim];
    }

    public int dim() { return shape().length; }
    public long numel() { return Native.check(Dishim.dt_tensor_numel(h()), "numel"); }
    public DType dtype() { return DType.ofCode(Native.check(Dishim.dt_tensor_dtype(h()), "dtype")); }
    public Device device() { return Device.parse(Native.takeString(Dishim.dt_tensor_device(h()), "device")); }
    public boolean requiresGrad() { return Native.check(Dishim.dt_tensor_requires_grad(h()), "requires_grad") == 1; }
    public boolean isLeaf() { return Native.check(Dishim.dt_tensor_is_leaf(h()), "is_leaf") == 1; }

    // ---- host copies (implemented in HostCopies) ------------------------------------------------

    /** All elements in C order, converted to float. */
    public float[] toFloatArray() { return HostCopies.toFloatArray(this); }
    public double[] toDoubleArray() { return HostCopies.toDoubleArray(this); }
    public long[] toLongArray() { return HostCopies.toLongArray(this); }
    public int[] toIntArray() { return HostCopies.toIntArray(this); }
    public byte[] toByteArray() { return HostCopies.toByteArray(this); }
    /** Copies all elements, converted to {@code dtype}, into host memory of exactly the right size. */
    public void copyTo(MemorySegment dst, DType dtype) { HostCopies.copyTo(this, dst, dtype); }
    /** The value of a one-element tensor (synchronises with the device). */
    public double item() { return HostCopies.item(this); }
    public boolean allFinite() { return HostCopies.allFinite(this); }
    public boolean allClose(Tensor other, double rtol, double atol) { return HostCopies.allClose(this, other, rtol, atol); }
    /** The tensor's values as PyTorch prints them. */
    public String format() { return HostCopies.format(this); }

    @Override
    public String toString() {
        if (h == null) return "Tensor(closed)";
        return "Tensor(" + Arrays.toString(shape()) + ", " + dtype().name().toLowerCase() + ", " + device() + ")";
    }

    // ---- element-wise --------------------------------------------------------------------------

    private Tensor unary(int op, String name) { return wrap(Dishim.dt_unary(op, h()), name); }
    private Tensor binary(int op, Tensor b, String name) { return wrap(Dishim.dt_binary(op, h(), b.h()), name); }
    private Tensor binary(int op, double s, String name) { return wrap(Dishim.dt_binary_scalar(op, h(), s), name); }

    public Tensor neg() { return unary(Dishim.DT_OP_NEG(), "neg"); }
    public Tensor exp() { return unary(Dishim.DT_OP_EXP(), "exp"); }
    public Tensor log() { return unary(Dishim.DT_OP_LOG(), "log"); }
    public Tensor sqrt() { return unary(Dishim.DT_OP_SQRT(), "sqrt"); }
    public Tensor square() { return unary(Dishim.DT_OP_SQUARE(), "square"); }
    public Tensor abs() { return unary(Dishim.DT_OP_ABS(), "abs"); }
    public Tensor relu() { return unary(Dishim.DT_OP_RELU(), "relu"); }
    public Tensor sigmoid() { return unary(Dishim.DT_OP_SIGMOID(), "sigmoid"); }
    public Tensor tanh() { return unary(Dishim.DT_OP_TANH(), "tanh"); }
    public Tensor sin() { return unary(Dishim.DT_OP_SIN(), "sin"); }
    public Tensor cos() { return unary(Dishim.DT_OP_COS(), "cos"); }
    public Tensor rsqrt() { return unary(Dishim.DT_OP_RSQRT(), "rsqrt"); }
    public Tensor reciprocal() { return unary(Dishim.DT_OP_RECIPROCAL(), "reciprocal"); }
    public Tensor sign() { return unary(Dishim.DT_OP_SIGN(), "sign"); }
    public Tensor isFinite() { return unary(Dishim.DT_OP_ISFINITE(), "isfinite"); }
    public Tensor floor() { return unary(Dishim.DT_OP_FLOOR(), "floor"); }
    public Tensor round() { return unary(Dishim.DT_OP_ROUND(), "round"); }
    public Tensor log1p() { return unary(Dishim.DT_OP_LOG1P(), "log1p"); }
    public Tensor expm1() { return unary(Dishim.DT_OP_EXPM1(), "expm1"); }
    public Tensor silu() { return unary(Dishim.DT_OP_SILU(), "silu"); }

    public Tensor add(Tensor b) { return binary(Dishim.DT_OP_ADD(), b, "add"); }
    public Tensor sub(Tensor b) { return binary(Dishim.DT_OP_SUB(), b, "sub"); }
    public Tensor mul(Tensor b) { return binary(Dishim.DT_OP_MUL(), b, "mul"); }
    public Tensor div(Tensor b) { return binary(Dishim.DT_OP_DIV(), b, "div"); }
    public Tensor pow(Tensor b) { return binary(Dishim.DT_OP_POW(), b, "pow"); }
    public Tensor maximum(Tensor b) { return binary(Dishim.DT_OP_MAXIMUM(), b, "maximum"); }
    public Tensor minimum(Tensor b) { return binary(Dishim.DT_OP_MINIMUM(), b, "minimum"); }
    public Tensor eq(Tensor b) { return binary(Dishim.DT_OP_EQ(), b, "eq"); }
    public Tensor ne(Tensor b) { return binary(Dishim.DT_OP_NE(), b, "ne"); }
    public Tensor lt(Tensor b) { return binary(Dishim.DT_OP_LT(), b, "lt"); }
    public Tensor le(Tensor b) { return binary(Dishim.DT_OP_LE(), b, "le"); }
    public Tensor gt(Tensor b) { return binary(Dishim.DT_OP_GT(), b, "gt"); }
    public Tensor ge(Tensor b) { return binary(Dishim.DT_OP_GE(), b, "ge"); }
    public Tensor atan2(Tensor b) { return binary(Dishim.DT_OP_ATAN2(), b, "atan2"); }

    public Tensor add(double s) { return binary(Dishim.DT_OP_ADD(), s, "add"); }
    public Tensor sub(double s) { return binary(Dishim.DT_OP_SUB(), s, "sub"); }
    public Tensor mul(double s) { return binary(Dishim.DT_OP_MUL(), s, "mul"); }
    public Tensor div(double s) { return binary(Dishim.DT_OP_DIV(), s, "div"); }
    public Tensor pow(double s) { return binary(Dishim.DT_OP_POW(), s, "pow"); }
    /** s - this. */
    public Tensor rsub(double s) { return binary(Dishim.DT_OP_RSUB(), s, "rsub"); }
    public Tensor clampMin(double lo) { return binary(Dishim.DT_OP_MAXIMUM(), lo, "clamp_min"); }
    public Tensor clampMax(double hi) { return binary(Dishim.DT_OP_MINIMUM(), hi, "clamp_max"); }
    public Tensor eq(double s) { return binary(Dishim.DT_OP_EQ(), s, "eq"); }
    public Tensor lt(double s) { return binary(Dishim.DT_OP_LT(), s, "lt"); }
    public Tensor le(double s) { return binary(Dishim.DT_OP_LE(), s, "le"); }
    public Tensor gt(double s) { return binary(Dishim.DT_OP_GT(), s, "gt"); }
    public Tensor ge(double s) { return binary(Dishim.DT_OP_GE(), s, "ge"); }

    /** Clamps into [lo, hi]; a NaN bound leaves that side open. */
    public Tensor clamp(double lo, double hi) { return wrap(Dishim.dt_clamp(h(), lo, hi), "clamp"); }
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return wrap(Dishim.dt_where(cond.h(), a.h(), b.h()), "where"); }
    public Tensor nanToNum(double nan, double posinf, double neginf) {
        return wrap(Dishim.dt_nan_to_num(h(), nan, posinf, neginf), "nan_to_num");
    }
    public Tensor matmul(Tensor b) { return wrap(Dishim.dt_matmul(h(), b.h()), "matmul"); }

    // ---- in place ------------------------------------------------------------------------------

    private Tensor inPlace(int op, Tensor b, String name) {
        Native.check(Dishim.dt_binary_(op, h(), b.h()), name);
        return this;
    }

    private Tensor inPlace(int op, double s, String name) {
        Native.check(Dishim.dt_binary_scalar_(op, h(), s), name);
        return this;
    }

    public Tensor addInPlace(Tensor b) { return inPlace(Dishim.DT_OP_ADD(), b, "add_"); }
    public Tensor subInPlace(Tensor b) { return inPlace(Dishim.DT_OP_SUB(), b, "sub_"); }
    public Tensor mulInPlace(Tensor b) { return inPlace(Dishim.DT_OP_MUL(), b, "mul_"); }
    public Tensor divInPlace(Tensor b) { return inPlace(Dishim.DT_OP_DIV(), b, "div_"); }
    public Tensor addInPlace(double s) { return inPlace(Dishim.DT_OP_ADD(), s, "add_"); }
    public Tensor mulInPlace(double s) { return inPlace(Dishim.DT_OP_MUL(), s, "mul_"); }
    public Tensor divInPlace(double s) { return inPlace(Dishim.DT_OP_DIV(), s, "div_"); }

    /** this += alpha * b, in place. */
    public Tensor addScaledInPlace(Tensor b, double alpha) {
        Native.check(Dishim.dt_axpy_(h(), b.h(), alpha), "add_(alpha)");
        return this;
    }

    /** Copies src's values into this tensor (broadcasting, converting dtype/device). */
    public Tensor copyFromInPlace(Tensor src) {
        Native.check(Dishim.dt_copy_(h(), src.h()), "copy_");
        return this;
    }

    public Tensor fillInPlace(double v) {
        Native.check(Dishim.dt_fill_(h(), v), "fill_");
        return this;
    }

    // ---- reductions ----------------------------------------------------------------------------

    private Tensor reduce(int op, long[] dims, boolean keepDim, String name) {
        MemorySegment d = dims.length == 0 ? MemorySegment.NULL : Native.scratch().shape(dims);
        return wrap(Dishim.dt_reduce(op, h(), d, dims.length, keepDim ? 1 : 0), name);
    }

    private static final long[] ALL = {};

    public Tensor sum() { return reduce(Dishim.DT_RED_SUM(), ALL, false, "sum"); }
    public Tensor sum(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_SUM(), dims, keepDim, "sum"); }
    public Tensor mean() { return reduce(Dishim.DT_RED_MEAN(), ALL, false, "mean"); }
    public Tensor mean(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_MEAN(), dims, keepDim, "mean"); }
    public Tensor max() { return reduce(Dishim.DT_RED_MAX(), ALL, false, "max"); }
    public Tensor amax(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_MAX(), dims, keepDim, "amax"); }
    public Tensor min() { return reduce(Dishim.DT_RED_MIN(), ALL, false, "min"); }
    public Tensor amin(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_MIN(), dims, keepDim, "amin"); }
    public Tensor prod() { return reduce(Dishim.DT_RED_PROD(), ALL, false, "prod"); }
    public Tensor var() { return reduce(Dishim.DT_RED_VAR(), ALL, false, "var"); }
    public Tensor var(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_VAR(), dims, keepDim, "var"); }
    public Tensor std() { return reduce(Dishim.DT_RED_STD(), ALL, false, "std"); }
    public Tensor std(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_STD(), dims, keepDim, "std"); }
    public Tensor norm() { return reduce(Dishim.DT_RED_NORM(), ALL, false, "norm"); }
    public Tensor norm(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_NORM(), dims, keepDim, "norm"); }
    public Tensor argmax() { return reduce(Dishim.DT_RED_ARGMAX(), ALL, false, "argmax"); }
    public Tensor argmax(long dim, boolean keepDim) { return reduce(Dishim.DT_RED_ARGMAX(), new long[] {dim}, keepDim, "argmax"); }
    public Tensor argmin(long dim, boolean keepDim) { return reduce(Dishim.DT_RED_ARGMIN(), new long[] {dim}, keepDim, "argmin"); }
    public Tensor all() { return reduce(Dishim.DT_RED_ALL(), ALL, false, "all"); }
    public Tensor any() { return reduce(Dishim.DT_RED_ANY(), ALL, false, "any"); }
    public Tensor logsumexp(long[] dims, boolean keepDim) { return reduce(Dishim.DT_RED_LOGSUMEXP(), dims, keepDim, "logsumexp"); }

    // ---- shape and indexing --------------------------------------------------------------------

    public Tensor reshape(long... shape) {
        return wrap(Dishim.dt_reshape(h(), Native.scratch().shape(shape), shape.length), "reshape " + Arrays.toString(shape));
    }
    public Tensor permute(long... dims) { return wrap(Dishim.dt_permute(h(), Native.scratch().shape(dims), dims.length), "permute"); }
    public Tensor transpose(long d0, long d1) { return wrap(Dishim.dt_transpose(h(), d0, d1), "transpose"); }
    public Tensor expand(long... shape) { return wrap(Dishim.dt_expand(h(), Native.scratch().shape(shape), shape.length), "expand"); }
    public Tensor unsqueeze(long dim) { return wrap(Dishim.dt_unsqueeze(h(), dim), "unsqueeze"); }
    public Tensor squeeze(long dim) { return wrap(Dishim.dt_squeeze(h(), dim), "squeeze"); }
    public Tensor flatten(long start, long end) { return wrap(Dishim.dt_flatten(h(), start, end), "flatten"); }

    public static Tensor cat(List<Tensor> ts, long dim) { return TensorFactory.cat(ts, dim); }
    public static Tensor stack(List<Tensor> ts, long dim) { return TensorFactory.stack(ts, dim); }

    /** Element {@code index} along {@code dim}, dropping that dimension (a view). */
    public Tensor select(long dim, long index) { return wrap(Dishim.dt_select(h(), dim, index), "select"); }
    /** Batch element i: {@code select(0, i)}. */
    public Tensor get(long i) { return select(0, i); }
    /** {@code length} entries from {@code start} along {@code dim} (a view). */
    public Tensor narrow(long dim, long start, long length) { return wrap(Dishim.dt_narrow(h(), dim, start, length), "narrow"); }
    /** Batch rows [start, end): {@code narrow(0, start, end - start)}. */
    public Tensor slice(long start, long end) { return narrow(0, start, end - start); }
    public Tensor indexSelect(long dim, Tensor index) { return wrap(Dishim.dt_index_select(h(), dim, index.h()), "index_select"); }
    public Tensor gather(long dim, Tensor index) { return wrap(Dishim.dt_gather(h(), dim, index.h()), "gather"); }
    /** One-hot int64 encoding of this int64 index tensor. */
    public Tensor oneHot(long classes) { return wrap(Dishim.dt_one_hot(h(), classes), "one_hot"); }

    public Tensor to(DType dtype) { return wrap(Dishim.dt_to(h(), dtype.code, MemorySegment.NULL), "to " + dtype); }
    public Tensor to(Device device) { return wrap(Dishim.dt_to(h(), -1, Native.cString(device)), "to " + device); }
    public Tensor contiguous() { return wrap(Dishim.dt_contiguous(h()), "contiguous"); }
    public Tensor copy() { return wrap(Dishim.dt_clone(h()), "clone"); }
    /** The same values cut from the autograd graph (shares storage). */
    public Tensor detach() { return wrap(Dishim.dt_detach(h()), "detach"); }
    /** A second handle to this very tensor (same storage, same autograd identity). */
    public Tensor alias() { return wrap(Dishim.dt_alias(h()), "alias"); }
    public Tensor cdist(Tensor b) { return wrap(Dishim.dt_cdist(h(), b.h()), "cdist"); }
    public Tensor cumsum(long dim) { return wrap(Dishim.dt_cumsum(h(), dim), "cumsum"); }
    public Tensor bincount(long minLength) { return wrap(Dishim.dt_bincount(h(), minLength), "bincount"); }

    /** Sorted values along dim; {@code sortIndices} gives the permutation. */
    public Tensor sort(long dim, boolean descending) {
        return wrap(Dishim.dt_sort(h(), dim, descending ? 1 : 0, MemorySegment.NULL), "sort");
    }

    public Tensor argsort(long dim, boolean descending) {
        MemorySegment out = Native.scratch().ptrs;
        out.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
        Tensor values = wrap(Dishim.dt_sort(h(), dim, descending ? 1 : 0, out), "sort");
        values.close();
        return wrap(out.get(ValueLayout.ADDRESS, 0), "sort");
    }

    /** Eigenvalues (ascending) of a symmetric matrix. */
    public Tensor eigvalsh() { return wrap(Dishim.dt_eigh(h(), MemorySegment.NULL), "eigh"); }

    /** Eigen-decomposition of a symmetric matrix: {values (ascending), vectors (columns)}. */
    public Tensor[] eigh() {
        MemorySegment out = Native.scratch().ptrs;
        out.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
        Tensor values = wrap(Dishim.dt_eigh(h(), out), "eigh");
        return new Tensor[] {values, wrap(out.get(ValueLayout.ADDRESS, 0), "eigh")};
    }

    /** Eigenvalues of a general square matrix as [n, 2] (real, imaginary). */
    public Tensor eigvals() { return wrap(Dishim.dt_eigvals(h()), "eigvals"); }

    // ---- autograd ------------------------------------------------------------------------------

    public Tensor requiresGrad(boolean on) {
        Native.check(Dishim.dt_requires_grad_(h(), on ? 1 : 0), "requires_grad_");
        return this;
    }

    /** Backpropagates from this scalar. */
    public void backward() { Native.check(Dishim.dt_backward(h(), MemorySegment.NULL, 0), "backward"); }

    public void backward(Tensor grad, boolean retainGraph) {
        Native.check(Dishim.dt_backward(h(), grad == null ? MemorySegment.NULL : grad.h(), retainGraph ? 1 : 0), "backward");
    }

    /** The accumulated gradient (a new handle to it), or null when there is none. */
    public Tensor grad() { return Autograd.grad(this); }

    /** Drops the accumulated gradient (sets .grad to None). */
    public void zeroGrad() { Native.check(Dishim.dt_zero_grad(h()), "zero_grad"); }

    /**
     * torch.autograd.grad: gradients of {@code outputs} (weighted by {@code gradOutputs}, or null for
     * scalar outputs) with respect to {@code inputs}; an unused input gets null.
     */
    public static Tensor[] gradients(List<Tensor> outputs, List<Tensor> gradOutputs, List<Tensor> inputs,
                                     boolean retainGraph, boolean createGraph) {
        return Autograd.gradients(outputs, gradOutputs, inputs, retainGraph, createGraph);
    }

    /**
     * Rescales the gradients of {@code params} so that their joint L2 norm is at most
     * {@code maxNorm}; returns the norm before clipping (torch.nn.utils.clip_grad_norm_).
     */
    public static double clipGradNorm(Collection<? extends Tensor> params, double maxNorm) { return Autograd.clipGradNorm(params, maxNorm); }
}
