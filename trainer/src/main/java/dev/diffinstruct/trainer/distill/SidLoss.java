package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * Score-identity Distillation's generator loss (Zhou et al., 2024):
 * {@code (D_t - D_f) . ((D_t - x) - alpha (D_t - D_f)) / mean|x - D_t|} per sample, averaged,
 * differentiated through x and through both denoisers' inputs x_sigma.
 */
public final class SidLoss implements GeneratorObjective {
    private final double alpha;

    public SidLoss(double alpha) {
        this.alpha = alpha;
    }

    @Override
    public boolean differentiatesDenoisers() {
        return true;
    }

    @Override
    public Tensor loss(Tensor x, Tensor dTeacher, Tensor dFake) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor norm = DmdLoss.normaliser(x.detach(), dTeacher.detach());
            Tensor diff = dTeacher.sub(dFake);
            Tensor l = diff.mul(dTeacher.sub(x).sub(diff.mul(alpha))).div(norm);
            out = s.keep(l.sum().div(x.size(0)));
        }
        return out;
    }
}
