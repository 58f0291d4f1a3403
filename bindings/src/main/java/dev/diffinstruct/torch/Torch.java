package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Process-wide libtorch settings and facts: version, BLAS, threads, CUDA, seeds, grad mode. */
public final class Torch {
    static {
        Native.ensureLoaded();
    }

    private Torch() {}

    /** The libtorch version the shim was compiled against, e.g. {@code 1.13.1}. */
    public static String version() {
        return Dishim.dt_torch_version().reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** at::show_config(): how libtorch was built. */
    public static String buildConfig() {
        return Native.takeString(Dishim.dt_build_config(), "show_config");
    }

    /** Where the shim was loaded from. */
    public static Path nativeLibrary() {
        return Native.loadedFrom();
    }

    /**
     * The BLAS library actually mapped into this process (after a matrix product), e.g.
     * {@code /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3}: Debian's libtorch uses
     * whichever libblas.so.3 the system selects, and the reference BLAS is ~10x slower.
     */
    public static String blasLibrary() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(8, 8);
            a.matmul(a);
        }
        List<String> found = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int i = line.indexOf('/');
                if (i < 0) continue;
                String path = line.substring(i);
                String name = Path.of(path).getFileName().toString();
                if (name.startsWith("libcublas")) continue; // the GPU's BLAS, mapped by a CUDA build; the CPU's is asked for here
                if ((name.contains("blas") || name.contains("mkl_") || name.contains("lapack")) && !found.contains(path)) found.add(path);
            }
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
        if (found.isEmpty()) return "built in (no separate BLAS library mapped)";
        List<String> resolved = new ArrayList<>();
        for (String p : found) {
            try {
                resolved.add(Path.of(p).toRealPath().toString());
            } catch (IOException e) {
                resolved.add(p);
            }
        }
        return String.join(", ", resolved);
    }

    /** A short verdict on {@link #blasLibrary()}: "OpenBLAS", "MKL", "reference BLAS (slow)" or the path. */
    public static String blasKind() {
        String b = blasLibrary();
        if (b.contains("openblas")) return "OpenBLAS";
        if (b.contains("mkl")) return "MKL";
        if (b.contains("blis")) return "BLIS";
        if (b.contains("atlas")) return "ATLAS";
        if (b.contains("/blas/libblas")) return "reference BLAS (slow: apt-get install libopenblas0-pthread)";
        return b;
    }

    public static boolean cudaAvailable() {
        return Native.check(Dishim.dt_cuda_is_available(), "cuda.is_available") == 1;
    }

    public static int cudaDeviceCount() {
        return Native.check(Dishim.dt_cuda_device_count(), "cuda.device_count");
    }

    public static int threads() {
        return Native.check(Dishim.dt_get_num_threads(), "get_num_threads");
    }

    /** libtorch's intra-op thread count. */
    public static void setThreads(int n) {
        Native.check(Dishim.dt_set_num_threads(n), "set_num_threads");
    }

    /**
     * Flushes denormal floats to zero in CPU maths (on from the moment the library loads: an
     * analytic teacher produces denormals, and without flushing CPU maths can run many times slower).
     */
    public static void setFlushDenormal(boolean on) {
        Native.check(Dishim.dt_set_flush_denormal(on ? 1 : 0), "set_flush_denormal");
    }

    /** Seeds libtorch's default generators (used by dropout inside TorchScript and by null generators). */
    public static void manualSeed(long seed) {
        Native.check(Dishim.dt_manual_seed(seed), "manual_seed");
    }

    /** The default CPU generator's state. */
    public static byte[] rngState() {
        return rngState(Device.CPU);
    }

    /** The state of {@code device}'s default generator: what dropout on that device draws from. */
    public static byte[] rngState(Device device) {
        try (Tensor t = rngStateTensor(device)) {
            return t.toByteArray();
        }
    }

    /** The default CPU generator's state as a native uint8 tensor (owned by the current scope). */
    public static Tensor rngStateTensor() {
        return rngStateTensor(Device.CPU);
    }

    /**
     * The state of {@code device}'s default generator as a native uint8 tensor on the CPU (owned by
     * the current scope): for a save/restore around a call that must see the same random numbers
     * twice (dropout masks), without copying the state to the Java heap and back. On CUDA the
     * state is the Philox seed and offset, read on the host: no synchronisation.
     */
    public static Tensor rngStateTensor(Device device) {
        return Tensor.wrap(Dishim.dt_default_rng_state(Native.cString(device)), "get_rng_state");
    }

    /** Restores a state from {@link #rngStateTensor()} (or any uint8 tensor of a CPU generator state). */
    public static void setRngState(Tensor state) {
        setRngState(Device.CPU, state);
    }

    /** Restores {@code device}'s default generator to a state from {@link #rngStateTensor(Device)}. */
    public static void setRngState(Device device, Tensor state) {
        Native.check(Dishim.dt_set_default_rng_state(Native.cString(device), state.h()), "set_rng_state");
    }

    public static void setRngState(byte[] state) {
        setRngState(Device.CPU, state);
    }

    public static void setRngState(Device device, byte[] state) {
        try (Tensor t = Tensor.of(state, state.length)) {
            setRngState(device, t);
        }
    }

    /**
     * Automatic mixed precision on this thread for the ops that run on {@code device}'s type, as
     * {@code torch.autocast(device_type, dtype)}: matmuls and convolutions in {@code dtype}
     * (BFLOAT16 or FLOAT16) while parameters stay float32; closing restores what was before.
     */
    public static Autocast autocast(Device device, DType dtype) {
        return new Autocast(device, dtype);
    }

    /** An autocast region of {@link #autocast}; close it on the thread that opened it. */
    public static final class Autocast implements AutoCloseable {
        private final MemorySegment device;
        private final int[] previous = new int[2];
        private boolean open;

        private Autocast(Device device, DType dtype) {
            this.device = Native.cString(device.isCuda() ? "cuda" : "cpu");
            MemorySegment prev = Native.scratch().ints;
            Native.check(Dishim.dt_autocast_enter(this.device, dtype.code, prev), "autocast");
            previous[0] = prev.getAtIndex(ValueLayout.JAVA_INT, 0);
            previous[1] = prev.getAtIndex(ValueLayout.JAVA_INT, 1);
            open = true;
        }

        @Override
        public void close() {
            if (!open) return;
            open = false;
            MemorySegment prev = Native.scratch().ints;
            prev.setAtIndex(ValueLayout.JAVA_INT, 0, previous[0]);
            prev.setAtIndex(ValueLayout.JAVA_INT, 1, previous[1]);
            Native.check(Dishim.dt_autocast_exit(device, prev), "autocast exit");
        }
    }

    /** Grad mode on this thread. */
    public static boolean gradEnabled() {
        return Native.check(Dishim.dt_is_grad_enabled(), "is_grad_enabled") == 1;
    }

    /** A scope with autograd off on this thread (torch.no_grad()); close restores the previous mode. */
    public static GradMode noGrad() {
        return new GradMode(false);
    }

    /** A scope with autograd on (torch.enable_grad()). */
    public static GradMode enableGrad() {
        return new GradMode(true);
    }

    public static final class GradMode implements AutoCloseable {
        private final boolean previous;
        private boolean closed;

        private GradMode(boolean on) {
            previous = Native.check(Dishim.dt_set_grad_enabled(on ? 1 : 0), "set_grad_enabled") == 1;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            Native.check(Dishim.dt_set_grad_enabled(previous ? 1 : 0), "set_grad_enabled");
        }
    }

    /**
     * Turns TorchScript's graph-executor optimisation on or off for the whole process; returns the
     * previous setting. Off, every call of a module runs the same graph, so a run resumed from a
     * reloaded module continues bit-exactly (on, the first calls are profiling runs and later ones
     * an optimised graph whose results differ in the last bits).
     */
    public static boolean setGraphExecutorOptimize(boolean on) {
        return Native.check(Dishim.dt_set_graph_executor_optimize(on ? 1 : 0), "set_graph_executor_optimize") == 1;
    }

    /**
     * TensorFloat-32 for float32 matmuls (cuBLAS) and convolutions (cuDNN) on CUDA GPUs of the
     * Ampere generation or newer, for the whole process: products with 10-bit mantissas, several
     * times faster and no longer float32-exact. LibTorch's defaults are off for matmuls and on for
     * convolutions; a distillation sets both from {@code --tf32} (off unless asked: EDM's
     * training code turns both off). Flags only: nothing changes on a CPU.
     */
    public static void setTf32(boolean matmul, boolean convolutions) {
        Native.check(Dishim.dt_set_tf32((matmul ? 1 : 0) | (convolutions ? 2 : 0)), "set_tf32");
    }

    /** Whether float32 matmuls use TF32 on CUDA ({@link #setTf32}). */
    public static boolean tf32Matmul() {
        return (Native.check(Dishim.dt_get_tf32(), "get_tf32") & 1) != 0;
    }

    /** Whether float32 convolutions use TF32 on CUDA ({@link #setTf32}). */
    public static boolean tf32Convolutions() {
        return (Native.check(Dishim.dt_get_tf32(), "get_tf32") & 2) != 0;
    }

    /**
     * cuDNN's autotuner for the whole process ({@code torch.backends.cudnn.benchmark}): the first
     * convolution of each shape times cuDNN's algorithms and keeps the fastest, so steps are faster
     * and which algorithm wins may differ between runs. Flag only: nothing changes on a CPU.
     * Returns the previous setting.
     */
    public static boolean setCudnnBenchmark(boolean on) {
        return Native.check(Dishim.dt_set_cudnn_benchmark(on ? 1 : 0), "set_cudnn_benchmark") == 1;
    }

    /** Live native handles {tensors, modules, optimizers, generators}: for leak checks. */
    public static long[] liveHandles() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG, 4);
            Native.check(Dishim.dt_live_handles(out), "live_handles");
            return out.toArray(ValueLayout.JAVA_LONG);
        }
    }

    /** Tensors in torch.save's format (a tuple: Python's torch.load reads it, also with weights_only=True). */
    public static byte[] pickle(List<Tensor> tensors) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = Native.handles(a, tensors);
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG, 2);
            Native.check(Dishim.dt_tensors_pickle(seg, tensors.size(), out, out.asSlice(8)), "pickle_save");
            return Native.takeBytes(out.get(ValueLayout.ADDRESS, 0), out.get(ValueLayout.JAVA_LONG, 8));
        }
    }

    /** Reads what {@link #pickle} (or torch.save of a list of tensors) wrote; the tensors join the current scope. */
    public static List<Tensor> unpickle(byte[] data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
            int n = Native.check(Dishim.dt_tensors_unpickle(seg, data.length, MemorySegment.NULL, 0), "pickle_load");
            MemorySegment out = a.allocate(ValueLayout.ADDRESS, Math.max(1, n));
            Native.check(Dishim.dt_tensors_unpickle(seg, data.length, out, n), "pickle_load");
            List<Tensor> r = new ArrayList<>(n);
            for (int i = 0; i < n; i++) r.add(new Tensor(out.getAtIndex(ValueLayout.ADDRESS, i)));
            return r;
        }
    }
}
