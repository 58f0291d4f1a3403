package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TorchScript module (torch.jit.ScriptModule): loaded from a file PyTorch wrote, run, trained,
 * composed with TorchScript source, and saved so that {@code torch.jit.load} reads it back.
 */
public final class ScriptModule implements AutoCloseable {
    static {
        Native.ensureLoaded();
    }

    private static final AtomicLong CLASS_IDS = new AtomicLong();

    private MemorySegment h;

    private ScriptModule(MemorySegment h) {
        this.h = h;
    }

    MemorySegment h() {
        if (h == null) throw new IllegalStateException("module is closed");
        return h;
    }

    // ---- loading and saving --------------------------------------------------------------------

    public static ScriptModule load(Path path) {
        return load(path, Device.CPU);
    }

    /** Loads a TorchScript file onto {@code device}; a missing or invalid file is a {@link ModelFileException}. */
    public static ScriptModule load(Path path, Device device) {
        if (!Files.exists(path)) throw new ModelFileException(path, "Module.load", "no such file");
        if (Files.isDirectory(path)) throw new ModelFileException(path, "Module.load", "is a directory, not a TorchScript file");
        if (!Files.isReadable(path)) throw new ModelFileException(path, "Module.load", "file is not readable");
        TorchScriptFile.check(path);
        MemorySegment p = Dishim.dt_module_load(Native.cStringTemp(path.toString()), Native.cString(device));
        if (p.address() == 0) {
            throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: " + firstLine(Native.lastError()));
        }
        return new ScriptModule(p);
    }

    public static ScriptModule load(byte[] data, Device device) {
        TorchScriptFile.check(data, "(module bytes)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
            return new ScriptModule(Native.handle(Dishim.dt_module_load_bytes(seg, data.length, Native.cString(device)), "Module.load(bytes)"));
        }
    }

    private static String firstLine(String s) {
        for (String line : s.split("\n")) if (!line.isBlank()) return line.strip();
        return s;
    }

    /**
     * Writes the module atomically ({@link AtomicFiles}): to a temporary file in the same folder,
     * flushed to disk, then renamed over {@code path}, so a crash leaves either the old file or the new one.
     */
    public void save(Path path) {
        try {
            // Saved through bytes, not libtorch's file writer: that names the archive's folder after
            // the (temporary) file, so the same module would give different bytes on every save.
            byte[] bytes = toBytes();
            AtomicFiles.write(path, tmp -> java.nio.file.Files.write(tmp, bytes));
        } catch (IOException e) {
            throw new TorchException("Module.save", path + ": " + e, e);
        }
    }

    /** The module as the bytes of a TorchScript file. */
    public byte[] toBytes() {
        MemorySegment out = Native.scratch().out;
        Native.check(Dishim.dt_module_save_bytes(h(), out, out.asSlice(8)), "Module.save(bytes)");
        return Native.takeBytes(out.get(ValueLayout.ADDRESS, 0), out.get(ValueLayout.JAVA_LONG, 8));
    }

    // ---- building modules in Java ----------------------------------------------------------------

    /**
     * A new, empty TorchScript module; fill it with {@link #registerModule}, attributes and
     * {@link #define}. {@code className} is made unique so that modules built in one process can
     * be saved together.
     */
    public static ScriptModule create(String className) {
        String qualified = "__torch__.diffinstruct." + className + "_" + CLASS_IDS.incrementAndGet();
        return new ScriptModule(Native.handle(Dishim.dt_module_new(Native.cStringTemp(qualified)), "Module.create"));
    }

    /** Adds {@code sub} as a submodule (it is shared, not copied). */
    public ScriptModule registerModule(String name, ScriptModule sub) {
        Native.check(Dishim.dt_module_register_module(h(), Native.cStringTemp(name), sub.h()), "register_module " + name);
        return this;
    }

    public ScriptModule registerParameter(String name, Tensor t) {
        Native.check(Dishim.dt_module_register_parameter(h(), Native.cStringTemp(name), t.h()), "register_parameter " + name);
        return this;
    }

    public ScriptModule registerBuffer(String name, Tensor t) {
        Native.check(Dishim.dt_module_register_buffer(h(), Native.cStringTemp(name), t.h()), "register_buffer " + name);
        return this;
    }

    public ScriptModule setAttribute(String name, double v) {
        Native.check(Dishim.dt_module_register_double(h(), Native.cStringTemp(name), v), "register_attribute " + name);
        return this;
    }

    public ScriptModule setAttribute(String name, long v) {
        Native.check(Dishim.dt_module_register_int(h(), Native.cStringTemp(name), v), "register_attribute " + name);
        return this;
    }

    public ScriptModule setAttribute(String name, long[] v) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocateFrom(ValueLayout.JAVA_LONG, v);
            Native.check(Dishim.dt_module_register_int_list(h(), Native.cStringTemp(name), seg, v.length), "register_attribute " + name);
        }
        return this;
    }

    /**
     * Adds methods written in TorchScript (libtorch's Module::define). Call a submodule as
     * {@code self.net.forward(...)}, not {@code self.net(...)}.
     */
    public ScriptModule define(String source) {
        Native.check(Dishim.dt_module_define(h(), Native.cStringTemp(source)), "Module.define");
        return this;
    }

    public boolean hasAttribute(String name) {
        return Native.check(Dishim.dt_module_has_attr(h(), Native.cStringTemp(name)), "hasattr") == 1;
    }

    public double getDouble(String name) {
        MemorySegment out = Native.scratch().doubles;
        Native.check(Dishim.dt_module_get_double(h(), Native.cStringTemp(name), out), "attribute " + name);
        return out.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    public long[] getIntList(String name) {
        Native.Scratch s = Native.scratch();
        int n = Native.check(Dishim.dt_module_get_int_list(h(), Native.cStringTemp(name), s.longs, Native.SCRATCH_LONGS), "attribute " + name);
        if (n > Native.SCRATCH_LONGS) throw new TorchException("attribute " + name, "list too long: " + n);
        return s.longs.asSlice(0, 8L * n).toArray(ValueLayout.JAVA_LONG);
    }

    // ---- copies ----------------------------------------------------------------------------------

    /** A deep copy whose parameters are independent leaves that require grad: ready to train. */
    public ScriptModule trainableCopy() {
        return new ScriptModule(Native.handle(Dishim.dt_module_clone(h()), "Module.clone"));
    }

    /** A frozen copy (torch.jit.freeze) in eval mode, for a network that is only evaluated. */
    public ScriptModule frozenCopy() {
        return new ScriptModule(Native.handle(Dishim.dt_module_freeze(h()), "Module.freeze"));
    }

    public ScriptModule requiresGrad(boolean on) {
        Native.check(Dishim.dt_module_requires_grad_(h(), on ? 1 : 0), "requires_grad_");
        return this;
    }

    /**
     * Whether forward (submodules inlined) reads a {@code training} flag (dropout, batch norm):
     * if not, train and eval mode compute the same and {@link #frozenCopy()} keeps the results.
     */
    public boolean readsTrainingFlag() {
        return Native.check(Dishim.dt_module_reads_training(h()), "reads_training") == 1;
    }

    /**
     * This module's parameters become {@code beta * this + (1 - beta) * source} (a copy of
     * source's when beta is 0), without autograd, in one native call: an exponential moving
     * average of {@code source}, a module of the same structure. Buffers (batch norm's running
     * statistics) are copied from source, not averaged.
     */
    public void emaUpdateFrom(ScriptModule source, double beta) {
        Native.check(Dishim.dt_module_ema_(h(), source.h(), beta), "EMA update");
    }

    /**
     * torch.nn.utils.clip_grad_norm_ over the parameters that have a gradient, in one native call:
     * returns their joint L2 norm before clipping and, when {@code maxNorm} is finite, rescales the
     * gradients in place to at most that norm (an infinite one only measures). The module form of
     * {@link Tensor#clipGradNorm}.
     */
    public double clipGradNorm(double maxNorm) {
        MemorySegment out = Native.scratch().doubles;
        Native.check(Dishim.dt_module_grad_norm_(h(), maxNorm, out), "clip_grad_norm_");
        return out.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    // ---- running -----------------------------------------------------------------------------

    /** Runs forward; arguments are tensors, numbers, booleans or null (None). Returns one tensor. */
    public Tensor forward(Object... args) {
        return runOne("forward", args);
    }

    /** Runs a method that returns a single tensor. */
    public Tensor runOne(String method, Object... args) {
        List<Tensor> r = run(method, args);
        if (r.size() != 1) {
            for (Tensor t : r) t.close();
            throw new TorchException("method '" + method + "'", "returned " + r.size() + " tensors; use run()");
        }
        return r.get(0);
    }

    /** Runs a method that returns a tensor or a tuple/list of tensors. */
    public List<Tensor> run(String method, Object... args) {
        Native.Scratch s = Native.scratch();
        if (args.length > Native.SCRATCH_LONGS) throw new IllegalArgumentException("too many arguments: " + args.length);
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            int kind;
            if (a instanceof Tensor t) {
                kind = Dishim.DT_ARG_TENSOR();
                s.ptrs.setAtIndex(ValueLayout.ADDRESS, i, t.h());
            } else if (a instanceof Double || a instanceof Float) {
                kind = Dishim.DT_ARG_DOUBLE();
                s.doubles.setAtIndex(ValueLayout.JAVA_DOUBLE, i, ((Number) a).doubleValue());
            } else if (a instanceof Integer || a instanceof Long || a instanceof Short || a instanceof Byte) {
                kind = Dishim.DT_ARG_INT();
                s.longs.setAtIndex(ValueLayout.JAVA_LONG, i, ((Number) a).longValue());
            } else if (a instanceof Boolean b) {
                kind = Dishim.DT_ARG_BOOL();
                s.longs.setAtIndex(ValueLayout.JAVA_LONG, i, b ? 1 : 0);
            } else if (a == null) {
                kind = Dishim.DT_ARG_NONE();
            } else {
                throw new IllegalArgumentException("argument " + i + " of " + method + " has unsupported type " + a.getClass().getSimpleName());
            }
            s.ints.setAtIndex(ValueLayout.JAVA_INT, i, kind);
        }
        int n = Native.check(Dishim.dt_module_run(h(), Native.cString(method), args.length, s.ints, s.ptrs, s.doubles, s.longs,
                s.ptrs2, Native.SCRATCH_PTRS), "method '" + method + "'");
        List<Tensor> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(new Tensor(s.ptrs2.getAtIndex(ValueLayout.ADDRESS, i)));
        return out;
    }

    // ---- introspection ---------------------------------------------------------------------------

    /** The schema of each method, e.g. {@code forward(__torch__.Net self, Tensor x) -> Tensor}. */
    public List<String> methods() {
        return lines(Native.takeString(Dishim.dt_module_methods(h()), "methods"));
    }

    public boolean hasMethod(String name) {
        for (String m : methods()) if (m.startsWith(name + "(")) return true;
        return false;
    }

    private static List<String> lines(String s) {
        List<String> out = new ArrayList<>();
        for (String l : s.split("\n")) if (!l.isEmpty()) out.add(l);
        return out;
    }

    /** Parameters by dotted name, in registration order; the handles belong to the current scope. */
    public Map<String, Tensor> namedParameters() {
        return named(0);
    }

    public Map<String, Tensor> namedBuffers() {
        return named(1);
    }

    /** Parameter handles in the order of {@link #namedParameters()}. */
    public List<Tensor> parameters() {
        return new ArrayList<>(named(0).values());
    }

    private Map<String, Tensor> named(int kind) {
        List<String> names = lines(Native.takeString(Dishim.dt_module_names(h(), kind), "named tensors"));
        int n = Native.check(Dishim.dt_module_tensors(h(), kind, MemorySegment.NULL, 0), "named tensors");
        if (n != names.size()) throw new TorchException("named tensors", "names and tensors disagree");
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (n == 0) return out;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(ValueLayout.ADDRESS, n);
            Native.check(Dishim.dt_module_tensors(h(), kind, seg, n), "named tensors");
            for (int i = 0; i < n; i++) out.put(names.get(i), new Tensor(seg.getAtIndex(ValueLayout.ADDRESS, i)));
        }
        return out;
    }

    /** Total number of parameter elements. */
    public long parameterCount() {
        long total = 0;
        try (Scope s = Scope.open()) {
            for (Tensor t : named(0).values()) total += t.numel();
        }
        return total;
    }

    public ScriptModule train(boolean on) {
        Native.check(Dishim.dt_module_train(h(), on ? 1 : 0), "train");
        return this;
    }

    public boolean isTraining() {
        return Native.check(Dishim.dt_module_is_training(h()), "is_training") == 1;
    }

    public ScriptModule to(Device device) {
        Native.check(Dishim.dt_module_to(h(), Native.cString(device), -1), "Module.to " + device);
        return this;
    }

    public ScriptModule to(DType dtype) {
        Native.check(Dishim.dt_module_to(h(), MemorySegment.NULL, dtype.code), "Module.to " + dtype);
        return this;
    }

    public boolean isClosed() {
        return h == null;
    }

    @Override
    public void close() {
        if (h != null) {
            Dishim.dt_module_free(h);
            h = null;
        }
    }
}
