package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * The generator's objective: the integral Kullback-Leibler divergence (IKL) of Diff-Instruct,
 * {@code IKL(p_g || p_teacher) = int w(sigma) KL(p_g,sigma || p_teacher,sigma) dsigma}, whose
 * gradient with respect to a generated sample x = g(z) is, with x_sigma = x + sigma eps and the
 * scores written through denoisers (score = (D(x_sigma) - x_sigma) / sigma^2),
 *
 * <pre>  grad_x = w(sigma) (D_fake(x_sigma) - D_teacher(x_sigma)) / sigma^2 </pre>
 *
 * (both denoisers evaluated without gradient). The loss handed to autograd is the surrogate
 * {@code sum(grad_x * g(z)) / N}, whose parameter gradient is the IKL gradient.
 *
 * <p>{@link Weighting#SID} is Score-identity Distillation's generator loss instead, which
 * differentiates through both denoisers' inputs; {@link #differentiatesDenoisers()} says so.
 */
public final class IklLoss {

    /** The choice of w(sigma) (or of objective, for SID). */
    public enum Weighting {
        /** w = sigma^2: grad_x = D_fake - D_teacher, as in the paper's code. */
        SIGMA2,
        /** w = sigma^2 / mean|x - D_teacher| per sample: DMD's normaliser. */
        DMD,
        /**
         * SiD: loss = (D_t - D_f) . ((D_t - x) - alpha (D_t - D_f)) / mean|x - D_t| per sample,
         * differentiated through x and through both denoisers' inputs x_sigma.
         */
        SID
    }

    /** Smallest per-sample normaliser (DMD and SiD use 1e-5). */
    static final double MIN_NORMALISER = 1e-5;

    private final Weighting weighting;
    private final double sidAlpha;

    public IklLoss(Weighting weighting, double sidAlpha) {
        this.weighting = weighting;
        this.sidAlpha = sidAlpha;
    }

    public Weighting weighting() {
        return weighting;
    }

    /** Whether the denoisers must run with autograd on, on a non-detached x_sigma (SiD). */
    public boolean differentiatesDenoisers() {
        return weighting == Weighting.SID;
    }

    /**
     * The surrogate loss (a scalar) whose gradient with respect to the generator's parameters is
     * the objective's. {@code x} is g(z) with its graph; {@code dTeacher} and {@code dFake} are the
     * denoisers at x_sigma (detached unless {@link #differentiatesDenoisers()}).
     */
    public Tensor loss(Tensor x, Tensor dTeacher, Tensor dFake) {
        Tensor out;
        try (Scope s = Scope.open()) {
            long n = x.size(0);
            if (weighting == Weighting.SID) {
                Tensor norm = normaliser(x.detach(), dTeacher.detach());
                Tensor diff = dTeacher.sub(dFake);
                Tensor l = diff.mul(dTeacher.sub(x).sub(diff.mul(sidAlpha))).div(norm);
                out = s.keep(l.sum().div(n));
            } else {
                Tensor g = gradient(x.detach(), dTeacher, dFake);
                out = s.keep(g.mul(x).sum().div(n));
            }
        }
        return out;
    }

    /** grad_x of the IKL (SIGMA2, DMD) for detached inputs; [N, ...]. */
    public Tensor gradient(Tensor x, Tensor dTeacher, Tensor dFake) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor g = dFake.sub(dTeacher);
            out = s.keep(switch (weighting) {
                case SIGMA2 -> g;
                case DMD -> g.div(normaliser(x, dTeacher));
                case SID -> throw new IllegalStateException("SiD has no closed-form grad_x; use loss()");
            });
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
