package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native edge: loads the shim, turns its status codes into exceptions, and keeps the small
 * per-thread buffers that out-parameters are passed through.
 */
final class Native {
    static final String RESOURCE = "/native/linux-x86_64/libdishim.so";
    static final String OVERRIDE_PROPERTY = "diffinstruct.native";
    static final String OVERRIDE_ENV = "DIFFINSTRUCT_NATIVE";

    private static volatile Path loadedFrom;

    private Native() {}

    /** Loads the shim once; every class touching {@link Dishim} calls this first. */
    static void ensureLoaded() {
        if (loadedFrom == null) loadOnce();
    }

    static Path loadedFrom() {
        ensureLoaded();
        return loadedFrom;
    }

    private static synchronized void loadOnce() {
        if (loadedFrom != null) return;
        Path lib = locate();
        try {
            System.load(lib.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new TorchException("load native library",
                    lib + ": " + e.getMessage()
                            + " (is libtorch installed? Debian: apt-get install libtorch-dev; an official"
                            + " LibTorch: build with LIBTORCH=/path)", e);
        }
        loadedFrom = lib;
        // An analytic teacher produces denormals; without flushing them CPU math can run 50x slower.
        Dishim.dt_set_flush_denormal(1);
        // TorchScript's executor would specialise a graph on its first calls (profiling, then an
        // optimised plan with autodiff subgraphs) and keep that plan: a module's results would then
        // depend on how often, and under which setting, it had run before. A resumed run, whose
        // modules are fresh, would differ from the straight run in the last bits. Off from the
        // start of the process, every call of every module runs the same plain graph.
        Dishim.dt_set_graph_executor_optimize(0);
    }

    private static Path locate() {
        String override = System.getProperty(OVERRIDE_PROPERTY, System.getenv(OVERRIDE_ENV));
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            if (!Files.isReadable(p))
                throw new TorchException("load native library", OVERRIDE_PROPERTY + "/" + OVERRIDE_ENV
                        + " names " + p + ", which is not a readable file");
            return p.toAbsolutePath();
        }
        byte[] bytes;
        try (InputStream in = Native.class.getResourceAsStream(RESOURCE)) {
            if (in == null)
                throw new TorchException("load native library", RESOURCE
                        + " is not on the class path: build the native-shim module (mvn package) or set "
                        + OVERRIDE_PROPERTY);
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new TorchException("load native library", e.toString(), e);
        }
        return extract(bytes);
    }

    /** Copies the library out of the jar into a cache folder named by its hash (atomically). */
    private static Path extract(byte[] bytes) {
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        String cache = System.getenv("XDG_CACHE_HOME");
        Path base = cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache");
        for (Path root : new Path[] {base.resolve("diffinstruct"), Path.of(System.getProperty("java.io.tmpdir"), "diffinstruct-" + System.getProperty("user.name"))}) {
            Path dir = root.resolve("native").resolve(hash);
            Path lib = dir.resolve("libdishim.so");
            try {
                if (Files.isReadable(lib) && Files.size(lib) == bytes.length) return lib;
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "libdishim", ".tmp");
                Files.write(tmp, bytes);
                Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                return lib;
            } catch (IOException e) {
                // try the next location
            }
        }
        throw new TorchException("load native library", "cannot write the native library to a cache folder");
    }

    // ---- status checks ---------------------------------------------------------------------

    static String lastError() {
        MemorySegment p = Dishim.dt_last_error();
        String msg = p.reinterpret(Long.MAX_VALUE).getString(0);
        return msg.isEmpty() ? "failed (no message from libtorch)" : msg;
    }

    static int check(int rc, String op) {
        if (rc < 0) throw new TorchException(op, lastError());
        return rc;
    }

    static long check(long rc, String op) {
        if (rc < 0) throw new TorchException(op, lastError());
        return rc;
    }

    static MemorySegment handle(MemorySegment p, String op) {
        if (p.address() == 0) throw new TorchException(op, lastError());
        return p;
    }

    /** Reads a string the shim malloc'd, and frees it. */
    static String takeString(MemorySegment p, String op) {
        handle(p, op);
        try {
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } finally {
            Dishim.dt_buffer_free(p);
        }
    }

    /** Copies a malloc'd byte buffer of the shim into a Java array, and frees it. */
    static byte[] takeBytes(MemorySegment dataPtr, long len) {
        try {
            return dataPtr.reinterpret(len).toArray(ValueLayout.JAVA_BYTE);
        } finally {
            Dishim.dt_buffer_free(dataPtr);
        }
    }

    /**
     * The handles of {@code ts} as a native array, for the calls that take a list of tensors; at
     * least one slot, so that an empty list still passes a valid pointer.
     */
    static MemorySegment handles(Arena a, List<? extends Tensor> ts) {
        MemorySegment seg = a.allocate(ValueLayout.ADDRESS, Math.max(1, ts.size()));
        for (int i = 0; i < ts.size(); i++) seg.setAtIndex(ValueLayout.ADDRESS, i, ts.get(i).h());
        return seg;
    }

    // ---- constant C strings --------------------------------------------------------------------

    private static final ConcurrentHashMap<String, MemorySegment> STRINGS = new ConcurrentHashMap<>();

    /** A NUL-terminated copy of s that lives as long as the JVM; for a small, fixed set of strings. */
    static MemorySegment cString(Object s) {
        return STRINGS.computeIfAbsent(String.valueOf(s), k -> Arena.global().allocateFrom(k));
    }

    /**
     * A NUL-terminated copy of s in this thread's text buffer, valid until the next call on this
     * thread: for a path or source passed to exactly one native call.
     */
    static MemorySegment cStringTemp(String s) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Scratch sc = scratch();
        MemorySegment buf = bytes.length < sc.text.byteSize() ? sc.text : Arena.ofAuto().allocate(bytes.length + 1L);
        MemorySegment.copy(bytes, 0, buf, ValueLayout.JAVA_BYTE, 0, bytes.length);
        buf.set(ValueLayout.JAVA_BYTE, bytes.length, (byte) 0);
        return buf;
    }

    // ---- per-thread scratch for out-parameters -------------------------------------------------

    static final int SCRATCH_LONGS = 64;
    static final int SCRATCH_PTRS = 256;

    static final class Scratch {
        final MemorySegment longs;
        final MemorySegment ptrs;
        final MemorySegment ptrs2;
        final MemorySegment ints;
        final MemorySegment doubles;
        final MemorySegment out;
        final MemorySegment text;

        Scratch(Arena arena) {
            longs = arena.allocate(ValueLayout.JAVA_LONG, SCRATCH_LONGS);
            ptrs = arena.allocate(ValueLayout.ADDRESS, SCRATCH_PTRS);
            ptrs2 = arena.allocate(ValueLayout.ADDRESS, SCRATCH_PTRS);
            ints = arena.allocate(ValueLayout.JAVA_INT, SCRATCH_PTRS);
            doubles = arena.allocate(ValueLayout.JAVA_DOUBLE, SCRATCH_PTRS);
            out = arena.allocate(ValueLayout.JAVA_LONG, 4);
            text = arena.allocate(1 << 15);
        }

        /** The shape in the scratch buffer (at most {@link #SCRATCH_LONGS} dimensions). */
        MemorySegment shape(long[] shape) {
            if (shape.length > SCRATCH_LONGS) throw new IllegalArgumentException("too many dimensions: " + shape.length);
            MemorySegment.copy(shape, 0, longs, ValueLayout.JAVA_LONG, 0, shape.length);
            return longs;
        }
    }

    // Freed when its thread ends (Arena.ofAuto), so short-lived threads do not leak.
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> new Scratch(Arena.ofAuto()));

    static Scratch scratch() {
        return SCRATCH.get();
    }
}
