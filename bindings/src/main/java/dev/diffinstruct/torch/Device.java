package dev.diffinstruct.torch;

import java.util.Objects;

/**
 * Where a tensor lives: {@code cpu} or {@code cuda:N}. Parsing checks the syntax only; whether
 * this libtorch can use the device is checked by libtorch on first use ({@link #check()}).
 */
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, -1);

    public Device {
        Objects.requireNonNull(kind);
        if (kind == Kind.CPU && index != -1) throw new IllegalArgumentException("cpu takes no index");
        if (kind == Kind.CUDA && index < 0) throw new IllegalArgumentException("cuda index must be >= 0");
    }

    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /** Parses {@code auto} (see {@link #auto()}), {@code cpu}, {@code cuda} (= cuda:0) or {@code cuda:N}. */
    public static Device parse(String spec) {
        String s = spec.strip().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("auto")) return auto();
        if (s.equals("cpu")) return CPU;
        if (s.equals("cuda")) return cuda(0);
        if (s.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + spec + "' (expected auto, cpu, cuda or cuda:N)");
    }

    /** CUDA device 0 when this libtorch has CUDA and sees a GPU, otherwise the CPU. */
    public static Device auto() {
        return Torch.cudaAvailable() ? cuda(0) : CPU;
    }

    /** Throws a {@link TorchException} naming the problem if libtorch cannot use this device. */
    public Device check() {
        Native.ensureLoaded();
        Native.check(dev.diffinstruct.torch.ffi.Dishim.dt_check_device(Native.cString(this)), "device " + this);
        return this;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
