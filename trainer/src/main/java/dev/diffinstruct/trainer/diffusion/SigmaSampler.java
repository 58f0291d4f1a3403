package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * Draws the noise levels sigma [N] (float32) at which the teacher and the fake score are compared
 * and at which the fake score is trained.
 */
public sealed interface SigmaSampler {

    /** n noise levels from {@code g}, float32 [n] on g's device. */
    Tensor sample(Generator g, long n);

    /** EDM's training distribution: ln(sigma) ~ N(pMean, pStd^2). */
    record LogNormal(double pMean, double pStd) implements SigmaSampler {
        public LogNormal {
            if (!(pStd >= 0) || !Double.isFinite(pMean)) throw new IllegalArgumentException("--p-std must be >= 0 and --p-mean finite");
        }

        @Override
        public Tensor sample(Generator g, long n) {
            Tensor out;
            try (Scope s = Scope.open()) {
                out = s.keep(Tensor.randn(g, n).mul(pStd).add(pMean).exp());
            }
            return out;
        }
    }

    /**
     * Uniform over the continuous Karras grid: sigma = (max^(1/rho) + u (min^(1/rho) - max^(1/rho)))^rho
     * with u ~ U[0, 1), i.e. uniform over the steps of Karras et al.'s sampler in the limit of many
     * steps (the DMD / SiD choice).
     */
    record KarrasUniform(double sigmaMin, double sigmaMax, double rho) implements SigmaSampler {
        public KarrasUniform {
            if (!(sigmaMin > 0) || !(sigmaMax > sigmaMin)) throw new IllegalArgumentException(
                    "need 0 < --sigma-min < --sigma-max, got " + sigmaMin + ", " + sigmaMax);
            if (!(rho > 0)) throw new IllegalArgumentException("rho must be > 0, got " + rho);
        }

        @Override
        public Tensor sample(Generator g, long n) {
            double lo = Math.pow(sigmaMin, 1 / rho), hi = Math.pow(sigmaMax, 1 / rho);
            Tensor out;
            try (Scope s = Scope.open()) {
                out = s.keep(Tensor.rand(g, n).mul(lo - hi).add(hi).pow(rho));
            }
            return out;
        }
    }
}
