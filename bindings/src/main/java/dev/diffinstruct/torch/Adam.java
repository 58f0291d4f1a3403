package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/** libtorch's Adam (torch::optim::Adam, the same update as torch.optim.Adam) over a parameter list. */
public final class Adam implements AutoCloseable {
    static {
        Native.ensureLoaded();
    }

    /** Hyper-parameters; the defaults are PyTorch's. */
    public record Options(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        public Options {
            if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
                throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
            if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
            if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }

        public static Options lr(double lr) {
            return new Options(lr, 0.9, 0.999, 1e-8, 0, false);
        }

        public Options betas(double b1, double b2) {
            return new Options(lr, b1, b2, eps, weightDecay, amsgrad);
        }

        public Options eps(double e) {
            return new Options(lr, beta1, beta2, e, weightDecay, amsgrad);
        }

        public Options weightDecay(double wd) {
            return new Options(lr, beta1, beta2, eps, wd, amsgrad);
        }

        public Options amsgrad(boolean on) {
            return new Options(lr, beta1, beta2, eps, weightDecay, on);
        }
    }

    private MemorySegment h;
    private final int size;

    public Adam(List<? extends Tensor> params, Options o) {
        this.size = params.size();
        try (Arena a = Arena.ofConfined()) {
            h = Native.handle(Dishim.dt_adam_new(Native.handles(a, params), params.size(), o.lr(), o.beta1(), o.beta2(), o.eps(),
                    o.weightDecay(), o.amsgrad() ? 1 : 0), "Adam");
        }
    }

    private MemorySegment h() {
        if (h == null) throw new IllegalStateException("optimizer is closed");
        return h;
    }

    public int parameterCount() {
        return size;
    }

    public void step() {
        Native.check(Dishim.dt_adam_step(h()), "Adam.step");
    }

    /**
     * The step, unless the gradients' L2 norm is not finite, with no host synchronisation: the norm,
     * the clipping to {@code maxNorm} (infinity: none), the test and the update all run on the
     * parameters' device, and a skipped update leaves parameters, moments and step counts exactly
     * as they were. What happened is read, with a synchronisation, by {@link #guardCounts()}.
     */
    public void guardedStep(double maxNorm) {
        Native.check(Dishim.dt_adam_guarded_step(h(), maxNorm), "Adam.guarded_step");
    }

    /**
     * What the guarded steps did: updates skipped in all ({@code skipped}), the longest run of
     * skipped updates in a row that reached a step after the previous call ({@code worstRun},
     * counted whole from its start), the run in progress ({@code run}, 0 after a good step), and
     * the last guarded step's gradient norm (NaN before any).
     */
    public record GuardCounts(long skipped, long worstRun, long run, double lastNorm) {}

    /** {@link GuardCounts} of the guarded steps so far (one host synchronisation). */
    public GuardCounts guardCounts() {
        Native.Scratch sc = Native.scratch();
        Native.check(Dishim.dt_adam_guard_read(h(), sc.longs, sc.doubles), "Adam.guard_read");
        return new GuardCounts(sc.longs.getAtIndex(ValueLayout.JAVA_LONG, 0), sc.longs.getAtIndex(ValueLayout.JAVA_LONG, 1),
                sc.longs.getAtIndex(ValueLayout.JAVA_LONG, 2), sc.doubles.get(ValueLayout.JAVA_DOUBLE, 0));
    }

    /** Drops the parameters' gradients (set to None, as PyTorch 2's default). */
    public void zeroGrad() {
        Native.check(Dishim.dt_adam_zero_grad(h()), "Adam.zero_grad");
    }

    public void setLr(double lr) {
        Native.check(Dishim.dt_adam_set_lr(h(), lr), "Adam.set_lr");
    }

    public double lr() {
        MemorySegment out = Native.scratch().doubles;
        Native.check(Dishim.dt_adam_get_lr(h(), out), "Adam.lr");
        return out.get(ValueLayout.JAVA_DOUBLE, 0);
    }

    /** Moments and step counts, serialised by libtorch. */
    public byte[] saveState() {
        MemorySegment out = Native.scratch().out;
        Native.check(Dishim.dt_adam_save_state(h(), out, out.asSlice(8)), "Adam.save_state");
        return Native.takeBytes(out.get(ValueLayout.ADDRESS, 0), out.get(ValueLayout.JAVA_LONG, 8));
    }

    public void loadState(byte[] state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocateFrom(ValueLayout.JAVA_BYTE, state);
            Native.check(Dishim.dt_adam_load_state(h(), seg, state.length), "Adam.load_state");
        }
    }

    @Override
    public void close() {
        if (h != null) {
            Dishim.dt_adam_free(h);
            h = null;
        }
    }
}
