package dev.diffinstruct.trainer.diffusion;

import java.util.Locale;

/** Beta schedules of discrete DDPM teachers; tables are computed in double precision. */
public enum DdpmSchedule {
    /** Ho et al. 2020: betas = linspace(1e-4, 0.02, steps). */
    LINEAR,
    /** Nichol & Dhariwal 2021: abar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2), s = 0.008, betas clipped at 0.999. */
    COSINE;

    public static final double LINEAR_BETA_START = 1e-4;
    public static final double LINEAR_BETA_END = 0.02;
    public static final double COSINE_S = 0.008;
    public static final double COSINE_MAX_BETA = 0.999;

    /** The betas beta_0 .. beta_{steps-1}. */
    public double[] betas(int steps) {
        if (steps < 2) throw new IllegalArgumentException("a DDPM schedule needs at least 2 steps, got " + steps);
        double[] b = new double[steps];
        switch (this) {
            case LINEAR -> {
                for (int i = 0; i < steps; i++)
                    b[i] = LINEAR_BETA_START + (LINEAR_BETA_END - LINEAR_BETA_START) * i / (steps - 1);
            }
            case COSINE -> {
                for (int i = 0; i < steps; i++) {
                    double a0 = cosineF((double) i / steps), a1 = cosineF((double) (i + 1) / steps);
                    b[i] = Math.min(1 - a1 / a0, COSINE_MAX_BETA);
                }
            }
        }
        return b;
    }

    private static double cosineF(double t) {
        double c = Math.cos((t + COSINE_S) / (1 + COSINE_S) * Math.PI / 2);
        return c * c;
    }

    /** Cumulative products abar_k = prod_{i <= k} (1 - beta_i), k = 0 .. steps-1 (k = 0 is the least noisy). */
    public double[] alphaBars(int steps) {
        double[] b = betas(steps);
        double[] a = new double[steps];
        double p = 1;
        for (int i = 0; i < steps; i++) {
            p *= 1 - b[i];
            a[i] = p;
        }
        return a;
    }

    /** EDM noise levels of the table, sigma_k = sqrt((1 - abar_k) / abar_k), ascending in k. */
    public double[] sigmas(int steps) {
        double[] a = alphaBars(steps);
        double[] s = new double[steps];
        for (int i = 0; i < steps; i++) s[i] = Math.sqrt((1 - a[i]) / a[i]);
        return s;
    }

    public static DdpmSchedule parse(String s) {
        return switch (s.strip().toLowerCase(Locale.ROOT)) {
            case "linear" -> LINEAR;
            case "cosine" -> COSINE;
            default -> throw new IllegalArgumentException("unknown DDPM schedule '" + s + "' (expected linear or cosine)");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
