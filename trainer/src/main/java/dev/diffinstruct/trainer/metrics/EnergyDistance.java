package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

/**
 * The energy distance between two sample sets X [n, ...] and Y [m, ...] (flattened per sample):
 * {@code 2 E|X - Y| - E|X - X'| - E|Y - Y'|}, with the within-set means over distinct pairs
 * (the unbiased U-statistic, so two independent sets of one distribution score about 0). Computed
 * in libtorch in float64 with cdist, in blocks of rows (memory O(block x m), so sets of 10^5
 * samples are fine); zero exactly when the distributions agree, in the limit.
 */
public final class EnergyDistance {
    private EnergyDistance() {}

    /** Rows of the first set per cdist call. */
    static final long BLOCK = 1024;

    public static double between(Tensor x, Tensor y) {
        if (x.size(0) < 2 || y.size(0) < 2) throw new IllegalArgumentException("energy distance needs at least 2 samples per set");
        try (Scope s = Scope.open()) {
            Tensor a = x.flatten(1, -1).to(DType.FLOAT64), b = y.flatten(1, -1).to(DType.FLOAT64);
            if (a.size(1) != b.size(1)) throw new IllegalArgumentException("sample sets of different dimensions: " + a.size(1) + " and " + b.size(1));
            double n = a.size(0), m = b.size(0);
            double xy = distanceSum(a, b) / (n * m);
            double xx = distanceSum(a, a) / (n * (n - 1)); // the diagonal is 0
            double yy = distanceSum(b, b) / (m * (m - 1));
            return 2 * xy - xx - yy;
        }
    }

    /** sum_ij |a_i - b_j|, in blocks of rows of a. */
    static double distanceSum(Tensor a, Tensor b) {
        double sum = 0;
        long n = a.size(0);
        for (long start = 0; start < n; start += BLOCK) {
            try (Scope s = Scope.open()) {
                Tensor rows = n <= BLOCK ? a : a.slice(start, Math.min(n, start + BLOCK));
                sum += rows.cdist(b).sum().item();
            }
        }
        return sum;
    }
}
