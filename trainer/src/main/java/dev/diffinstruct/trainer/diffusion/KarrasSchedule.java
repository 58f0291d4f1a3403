package dev.diffinstruct.trainer.diffusion;

/**
 * The noise levels of EDM's sampler (Karras et al. 2022, eq. 5): {@code steps} levels from
 * {@code sigmaMax} down to {@code sigmaMin}, spaced uniformly in {@code sigma^(1/rho)}; the
 * sampler appends a final 0.
 */
public record KarrasSchedule(int steps, double sigmaMin, double sigmaMax, double rho) {
    /** EDM's defaults: 18 steps (35 denoiser evaluations with Heun), sigma 0.002 .. 80, rho 7. */
    public static final KarrasSchedule DEFAULT = new KarrasSchedule(18, 0.002, 80, 7);

    public KarrasSchedule {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (!(sigmaMin > 0) || !(sigmaMax >= sigmaMin) || !Double.isFinite(sigmaMax))
            throw new IllegalArgumentException("--sigma-min and --sigma-max need 0 < --sigma-min <= --sigma-max < inf, got --sigma-min " + sigmaMin + ", --sigma-max " + sigmaMax);
        if (!(rho > 0) || !Double.isFinite(rho)) throw new IllegalArgumentException("--rho must be > 0, got " + rho);
    }

    /** The {@code steps} noise levels, descending: {@code sigmas()[0] == sigmaMax}, the last is sigmaMin. */
    public double[] sigmas() {
        double[] t = new double[steps];
        if (steps == 1) {
            t[0] = sigmaMax;
            return t;
        }
        double a = Math.pow(sigmaMax, 1 / rho), b = Math.pow(sigmaMin, 1 / rho);
        for (int i = 0; i < steps; i++) t[i] = Math.pow(a + (double) i / (steps - 1) * (b - a), rho);
        return t;
    }

    /** {@link #sigmas()} followed by 0. */
    public double[] sigmasWithZero() {
        double[] s = sigmas();
        double[] t = new double[steps + 1];
        System.arraycopy(s, 0, t, 0, steps);
        return t;
    }

    public KarrasSchedule withSteps(int n) {
        return new KarrasSchedule(n, sigmaMin, sigmaMax, rho);
    }
}
