package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.MemorySegment;

/** A seeded random generator on one device, whose state can be saved and restored. */
public final class Generator implements AutoCloseable {
    static {
        Native.ensureLoaded();
    }

    private MemorySegment h;
    private final Device device;

    public Generator(long seed) {
        this(seed, Device.CPU);
    }

    public Generator(long seed, Device device) {
        this.device = device;
        this.h = Native.handle(Dishim.dt_generator_new(seed, Native.cString(device)), "Generator(" + device + ")");
    }

    public Device device() {
        return device;
    }

    static MemorySegment h(Generator g) {
        if (g == null) return MemorySegment.NULL;
        if (g.h == null) throw new IllegalStateException("generator is closed");
        return g.h;
    }

    /** The full state as bytes (for checkpoints). */
    public byte[] state() {
        try (Tensor t = Tensor.wrap(Dishim.dt_generator_get_state(h(this)), "Generator.get_state")) {
            return t.toByteArray();
        }
    }

    public void setState(byte[] state) {
        try (Tensor t = Tensor.of(state, state.length)) {
            Native.check(Dishim.dt_generator_set_state(h(this), t.h()), "Generator.set_state");
        }
    }

    @Override
    public void close() {
        if (h != null) {
            Dishim.dt_generator_free(h);
            h = null;
        }
    }
}
