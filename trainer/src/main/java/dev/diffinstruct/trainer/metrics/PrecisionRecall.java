package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;

/**
 * Improved precision and recall (Kynkaanniemi et al. 2019) in feature space: each set's manifold
 * is the union of balls around its points with radius the distance to the point's k-th nearest
 * other point of the set; precision is the fraction of generated points inside the real manifold,
 * recall the fraction of real points inside the generated one (a point on a ball's boundary
 * counts as inside). Distances are float64 {@code cdist}s over row blocks of {@code batch}.
 */
public final class PrecisionRecall {
    public static final int DEFAULT_K = 3;
    public static final int DEFAULT_BATCH = 1024;

    private PrecisionRecall() {}

    public record Result(double precision, double recall, int k) {}

    public static Result compute(Tensor realFeatures, Tensor fakeFeatures) {
        return compute(realFeatures, fakeFeatures, DEFAULT_K, DEFAULT_BATCH);
    }

    public static Result compute(Tensor real, Tensor fake, int k, int batch) {
        if (k < 1) throw new IllegalArgumentException("k must be >= 1, got " + k);
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (real.dim() != 2 || fake.dim() != 2 || real.size(1) != fake.size(1))
            throw new InvalidInputException("features must be [N, F] with the same F, got "
                    + java.util.Arrays.toString(real.shape()) + " and " + java.util.Arrays.toString(fake.shape()));
        if (real.size(0) <= k || fake.size(0) <= k)
            throw new InvalidInputException("precision/recall with k=" + k + " needs more than " + k + " samples in each set");
        try (Torch.GradMode ng = Torch.noGrad(); Scope s = Scope.open()) {
            Tensor r = real.to(DType.FLOAT64), f = fake.to(DType.FLOAT64);
            Tensor rr = radii(r, k, batch), fr = radii(f, k, batch);
            return new Result(coverage(f, r, rr, batch), coverage(r, f, fr, batch), k);
        }
    }

    /** Distance of each row of x to its k-th nearest other row (the row itself is the 0-th). */
    public static Tensor radii(Tensor x, int k, int batch) {
        long n = x.size(0);
        Tensor out;
        try (Scope s = Scope.open()) {
            java.util.List<Tensor> parts = new java.util.ArrayList<>();
            for (long start = 0; start < n; start += batch) {
                long end = Math.min(n, start + batch);
                try (Scope b = Scope.open()) {
                    Tensor d = x.slice(start, end).cdist(x).sort(1, false);
                    parts.add(b.keep(d.select(1, k).contiguous()));
                }
            }
            out = s.keep(Tensor.cat(parts, 0));
        }
        return out;
    }

    /** Fraction of rows of q inside the union of balls (centres, radii). */
    static double coverage(Tensor q, Tensor centres, Tensor radii, int batch) {
        long n = q.size(0);
        long inside = 0;
        Tensor rad = radii.unsqueeze(0);
        for (long start = 0; start < n; start += batch) {
            long end = Math.min(n, start + batch);
            try (Scope b = Scope.open()) {
                Tensor hit = q.slice(start, end).cdist(centres).le(rad).to(DType.FLOAT64).amax(new long[] {1}, false);
                inside += (long) hit.sum().item();
            }
        }
        rad.close();
        return (double) inside / n;
    }
}
