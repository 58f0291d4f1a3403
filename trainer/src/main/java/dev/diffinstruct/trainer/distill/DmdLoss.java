package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * Distribution Matching Distillation's generator objective (Yin et al., 2024): the KL gradient
 * {@code D_fake - D_teacher} divided per sample by {@code mean |x - D_teacher|}, through the same
 * surrogate {@code sum(grad_x * g(z)) / N} as {@link IklLoss}.
 */
public final class DmdLoss implements GeneratorObjective {
    /** Smallest per-sample normaliser (DMD and SiD use 1e-5). */
    static final double MIN_NORMALISER = 1e-5;

    @Override
    public Tensor loss(Tensor x, Tensor dTeacher, Tensor dFake) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor g = dFake.sub(dTeacher).div(normaliser(x.detach(), dTeacher));
            out = s.keep(g.mul(x).sum().div(x.size(0)));
        }
        return out;
    }

    /** mean |x - D_teacher| over each sample's elements, at least 1e-5, shaped [N, 1, ...]. */
    static Tensor normaliser(Tensor x, Tensor dTeacher) {
        Tensor out;
        try (Scope s = Scope.open()) {
            long[] dims = new long[x.dim() - 1];
            for (int i = 0; i < dims.length; i++) dims[i] = i + 1;
            out = s.keep(x.sub(dTeacher).abs().mean(dims, true).clampMin(MIN_NORMALISER));
        }
        return out;
    }
}
