package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.Shapes;

/** The teacher as the distillation step calls it: frozen (torch.jit.freeze) where that provably computes the same. */
final class FrozenTeacher {
    private FrozenTeacher() {}

    /**
     * A frozen copy of the teacher (parameters and attributes folded into the graph) when its
     * forward does not read the training flag (or the run is in eval mode), freezing succeeds, and
     * the copy agrees with the teacher on a probe batch; otherwise the teacher itself (e.g. a
     * wrapper that calls a submodule's other methods, which freezing drops).
     */
    static ScriptModule copyIfSame(ScriptModule teacher, DistillConfig cfg, Device device, long[] dataShape) {
        if (cfg.trainMode && teacher.readsTrainingFlag()) return teacher;
        ScriptModule frozen;
        try {
            frozen = teacher.frozenCopy();
        } catch (RuntimeException e) {
            return teacher;
        }
        try (Scope s = Scope.open(); var noGrad = Torch.noGrad(); Generator g = new Generator(0, device)) {
            Tensor x = Tensor.randn(g, DType.FLOAT32, device, Shapes.prepend(4, dataShape));
            Tensor sigma = Tensor.of(0.01f, 0.3f, 2f, 40f).to(device);
            Tensor labels = null;
            if (cfg.classes > 0) {
                long[] idx = new long[4];
                for (int i = 0; i < 4; i++) idx[i] = i % cfg.classes;
                labels = Tensor.of(idx, 4).oneHot(cfg.classes).to(DType.FLOAT32).to(device);
            }
            if (Denoiser.forward(frozen, x, sigma, labels).allClose(Denoiser.forward(teacher, x, sigma, labels), 1e-5, 1e-6)) return frozen;
        } catch (RuntimeException e) {
            // not freezable after all
        }
        frozen.close();
        return teacher;
    }
}
