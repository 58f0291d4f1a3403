package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * The fake score's objective: EDM's denoising score matching on the generator's (detached)
 * samples, {@code sum_i lambda(sigma_i) |D(x_i + sigma_i n_i, sigma_i) - x_i|^2 / N} with
 * {@code lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2}.
 */
public final class DenoisingScoreMatchingLoss {
    private final double sigmaData;

    public DenoisingScoreMatchingLoss(double sigmaData) {
        this.sigmaData = sigmaData;
    }

    /** EDM's loss weight for each sigma, [N]. */
    public Tensor weight(Tensor sigma) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor s2 = sigma.square();
            out = s.keep(s2.add(sigmaData * sigmaData).div(s2.mul(sigmaData * sigmaData)));
        }
        return out;
    }

    /**
     * The loss (scalar) of {@code denoiser} on clean samples x [N, ...] at noise levels sigma [N]
     * with standard normal noise {@code eps} of x's shape; {@code labels} (one-hot [N, C]) are the
     * classes x were drawn for, null for an unconditional denoiser.
     */
    public Tensor loss(Denoiser denoiser, Tensor x, Tensor sigma, Tensor eps, Tensor labels) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor sb = perSample(sigma, x.dim());
            Tensor xn = x.add(eps.mul(sb));
            Tensor d = denoiser.forward(xn, sigma, labels);
            Tensor w = perSample(weight(sigma), x.dim());
            out = s.keep(d.sub(x).square().mul(w).sum().div(x.size(0)));
        }
        return out;
    }

    /** [N] reshaped to [N, 1, ..., 1] with {@code dim} dimensions, to broadcast over samples. */
    public static Tensor perSample(Tensor v, int dim) {
        long[] shape = new long[dim];
        java.util.Arrays.fill(shape, 1);
        shape[0] = -1;
        return v.reshape(shape);
    }
}
