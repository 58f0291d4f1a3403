package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.ScriptModule;

/**
 * A TorchScript network together with the number of classes it is conditioned on (0:
 * unconditional), which decides whether its forward takes one-hot class labels last. Owns the module.
 */
abstract sealed class LabelledNet implements AutoCloseable permits Denoiser, GeneratorNet {
    final ScriptModule module;
    final int classes;

    LabelledNet(ScriptModule module, int classes) {
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
        this.module = module;
        this.classes = classes;
    }

    public final ScriptModule module() {
        return module;
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
