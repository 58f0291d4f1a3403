package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * Diff-Instruct's objective: the integral Kullback-Leibler divergence (IKL),
 * {@code IKL(p_g || p_teacher) = int w(sigma) KL(p_g,sigma || p_teacher,sigma) dsigma}, whose
 * gradient with respect to a generated sample x = g(z) is, with x_sigma = x + sigma eps and the
 * scores written through denoisers (score = (D(x_sigma) - x_sigma) / sigma^2),
 *
 * <pre>  grad_x = w(sigma) (D_fake(x_sigma) - D_teacher(x_sigma)) / sigma^2 </pre>
 *
 * (both denoisers evaluated without gradient). The loss handed to autograd is the surrogate
 * {@code sum(grad_x * g(z)) / N}, whose parameter gradient is the IKL gradient.
 */
public final class IklLoss implements GeneratorObjective {

    /** The choice of w(sigma) ({@code --weighting}). */
    public enum Weighting {
        /** w = sigma^2: grad_x = D_fake - D_teacher, as in the paper's code. */
        SIGMA2
    }

    private final Weighting weighting;

    public IklLoss(Weighting weighting) {
        this.weighting = weighting;
    }

    @Override
    public Tensor loss(Tensor x, Tensor dTeacher, Tensor dFake) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor g = switch (weighting) {
                case SIGMA2 -> dFake.sub(dTeacher);
            };
            out = s.keep(g.mul(x).sum().div(x.size(0)));
        }
        return out;
    }
}
