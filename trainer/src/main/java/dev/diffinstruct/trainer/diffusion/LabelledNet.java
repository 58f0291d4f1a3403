package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;

/**
 * A TorchScript network together with the number of classes it is conditioned on (0:
 * unconditional), which decides whether its forward takes one-hot class labels last. Owns the module.
 */
abstract sealed class LabelledNet implements AutoCloseable permits Denoiser, GeneratorNet {
    final ScriptModule module;
    final int classes;
    /** The reduced type its forward runs in under autocast (bfloat16), or null: float32. */
    private DType autocast;

    LabelledNet(ScriptModule module, int classes) {
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
        this.module = module;
        this.classes = classes;
    }

    public final ScriptModule module() {
        return module;
    }

    /**
     * Runs this network's forward under autocast to {@code reduced} (BFLOAT16; null: float32
     * throughout), returning float32: the losses and the score differences the generator's
     * gradient is made of are computed in full precision.
     */
    public final void autocast(DType reduced) {
        this.autocast = reduced;
    }

    /** {@code module.forward(inputs..., labels)} as {@link Denoiser#call}, under this net's autocast. */
    final Tensor run(Tensor labels, Tensor... inputs) {
        if (autocast == null) return Denoiser.call(module, classes, labels, inputs);
        Tensor out;
        try (Scope s = Scope.open(); var region = Torch.autocast(inputs[0].device(), autocast)) {
            out = s.keep(Denoiser.call(module, classes, labels, inputs).to(DType.FLOAT32));
        }
        return out;
    }

    /** Number of classes (0: unconditional). */
    public final int classes() {
        return classes;
    }

    @Override
    public final void close() {
        module.close();
    }
}
