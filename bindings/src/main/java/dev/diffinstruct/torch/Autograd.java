package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collection;
import java.util.List;

/**
 * The native side of {@link Tensor}'s autograd calls that take lists of tensors (torch.autograd.grad,
 * clip_grad_norm_) or report through an out-flag (the gradient). Tensor keeps the public methods as
 * one-line delegates.
 */
final class Autograd {
    static {
        Native.ensureLoaded();
    }

    private Autograd() {}

    static Tensor grad(Tensor t) {
        MemorySegment flag = Native.scratch().ints;
        flag.set(ValueLayout.JAVA_INT, 0, -1);
        MemorySegment p = Dishim.dt_grad(t.h(), flag);
        int defined = flag.get(ValueLayout.JAVA_INT, 0);
        if (defined < 0) throw new TorchException("grad", Native.lastError());
        if (defined == 0) return null;
        return Tensor.wrap(p, "grad");
    }

    static Tensor[] gradients(List<Tensor> outputs, List<Tensor> gradOutputs, List<Tensor> inputs,
                              boolean retainGraph, boolean createGraph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS, Math.max(1, inputs.size()));
            Native.check(Dishim.dt_autograd_grad(Native.handles(a, outputs), gradOutputs == null ? MemorySegment.NULL : Native.handles(a, gradOutputs),
                    outputs.size(), Native.handles(a, inputs), inputs.size(), retainGraph ? 1 : 0, createGraph ? 1 : 0, 1, out), "autograd.grad");
            Tensor[] r = new Tensor[inputs.size()];
            for (int i = 0; i < r.length; i++) {
                MemorySegment p = out.getAtIndex(ValueLayout.ADDRESS, i);
                r[i] = p.address() == 0 ? null : new Tensor(p);
            }
            return r;
        }
    }

    static double clipGradNorm(Collection<? extends Tensor> params, double maxNorm) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_DOUBLE);
            Native.check(Dishim.dt_clip_grad_norm(Native.handles(a, List.copyOf(params)), params.size(), maxNorm, out), "clip_grad_norm_");
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }
}
