package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;

/**
 * The Frechet distance between Gaussians fitted to two feature sets (FID when the features are
 * Inception's):
 * {@code |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(sqrt(S1) S2 sqrt(S1))}.
 *
 * <p>Everything is float64 in libtorch. The trace term uses the symmetric eigen-decomposition
 * twice (sqrt(S1) from the eigenpairs of S1, then the eigenvalues of the symmetric PSD matrix
 * sqrt(S1) S2 sqrt(S1)), with tiny negative eigenvalues from rounding clamped to 0. Unlike
 * scipy.linalg.sqrtm on S1 S2 this needs no regularisation for singular covariances (fewer
 * samples than feature dimensions) and never goes complex.
 */
public final class FrechetDistance {
    private FrechetDistance() {}

    /** Mean [F] and covariance [F, F] (unbiased, as numpy.cov) of features [N, F], float64. */
    public record Stats(Tensor mean, Tensor cov, long count) implements AutoCloseable {
        public int dim() {
            return (int) mean.size(0);
        }

        @Override
        public void close() {
            mean.close();
            cov.close();
        }
    }

    public static Stats stats(Tensor features) {
        if (features.dim() != 2) throw new InvalidInputException("features must be [N, F], got " + java.util.Arrays.toString(features.shape()));
        long n = features.size(0);
        if (n < 2) throw new InvalidInputException("need at least 2 samples for a covariance, got " + n);
        Tensor mean, cov;
        try (Torch.GradMode ng = Torch.noGrad(); Scope s = Scope.open()) {
            Tensor f = features.to(DType.FLOAT64);
            Tensor mu = f.mean(new long[] {0}, false);
            Tensor c = f.sub(mu.unsqueeze(0));
            Tensor sigma = c.transpose(0, 1).matmul(c).div(n - 1);
            mean = s.keep(mu);
            cov = s.keep(sigma.add(sigma.transpose(0, 1)).mul(0.5));
        }
        return new Stats(mean, cov, n);
    }

    /** The distance between the Gaussians fitted to two feature sets [N1, F] and [N2, F]. */
    public static double between(Tensor features1, Tensor features2) {
        try (Stats a = stats(features1); Stats b = stats(features2)) {
            return distance(a, b);
        }
    }

    public static double distance(Stats a, Stats b) {
        return distance(a.mean(), a.cov(), b.mean(), b.cov());
    }

    public static double distance(Tensor mu1, Tensor s1, Tensor mu2, Tensor s2) {
        if (mu1.size(0) != mu2.size(0))
            throw new InvalidInputException("feature dimensions differ: " + mu1.size(0) + " vs " + mu2.size(0));
        try (Torch.GradMode ng = Torch.noGrad(); Scope s = Scope.open()) {
            Tensor m1 = mu1.to(DType.FLOAT64), m2 = mu2.to(DType.FLOAT64);
            Tensor c1 = symmetric(s1.to(DType.FLOAT64)), c2 = symmetric(s2.to(DType.FLOAT64));
            double meanTerm = m1.sub(m2).square().sum().item();
            double tr1 = trace(c1), tr2 = trace(c2);
            double cross = traceSqrtProduct(c1, c2);
            return Math.max(0, meanTerm + tr1 + tr2 - 2 * cross);
        }
    }

    /** tr sqrt(sqrt(S1) S2 sqrt(S1)) = tr sqrt(S1 S2), for symmetric PSD S1, S2. */
    public static double traceSqrtProduct(Tensor s1, Tensor s2) {
        try (Scope s = Scope.open()) {
            Tensor r1 = psdSqrt(s1);
            Tensor m = symmetric(r1.matmul(s2.to(DType.FLOAT64)).matmul(r1));
            return m.eigvalsh().clampMin(0).sqrt().sum().item();
        }
    }

    /** The PSD square root V diag(sqrt(max(l, 0))) V^T of a symmetric matrix. */
    static Tensor psdSqrt(Tensor sym) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor[] ev = symmetric(sym).eigh();
            Tensor root = ev[0].clampMin(0).sqrt();
            Tensor v = ev[1];
            out = s.keep(symmetric(v.mul(root.unsqueeze(0)).matmul(v.transpose(0, 1))));
        }
        return out;
    }

    private static Tensor symmetric(Tensor m) {
        return m.add(m.transpose(0, 1)).mul(0.5);
    }

    /** Sum of the diagonal (libtorch has no trace here: sum of the elementwise product with I). */
    static double trace(Tensor m) {
        try (Scope s = Scope.open()) {
            long n = m.size(0);
            // the diagonal of a contiguous n x n matrix is every (n+1)-th element of its flattening
            Tensor flat = m.contiguous().reshape(n * n);
            Tensor padded = Tensor.cat(java.util.List.of(flat, Tensor.zeros(DType.FLOAT64, m.device(), n)), 0);
            return padded.reshape(n, n + 1).select(1, 0).sum().item();
        }
    }
}
