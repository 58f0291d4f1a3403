package dev.diffinstruct.trainer.diffusion;

/**
 * How to read a raw teacher network: its {@link TeacherKind} and the constants of its noise
 * schedule.
 *
 * @param kind      the parameterisation
 * @param betaMin   VP-SDE beta(0) (vp-eps only; default 0.1)
 * @param betaMax   VP-SDE beta(1) (vp-eps only; default 20)
 * @param timeScale vp-eps only: the network is called with {@code timeScale * t} (1 for t in
 *                  (0, 1]; 999 for networks that take t scaled to DDPM step units, as EDM's VPPrecond)
 * @param schedule  DDPM beta schedule (ddpm-* only; default linear)
 * @param steps     DDPM number of steps (ddpm-* only; default 1000)
 * @param classes   number of classes of a class-conditional teacher, 0 for unconditional
 */
public record TeacherSpec(TeacherKind kind, double betaMin, double betaMax, double timeScale,
                          DdpmSchedule schedule, int steps, int classes) {
    public static final double DEFAULT_BETA_MIN = 0.1;
    public static final double DEFAULT_BETA_MAX = 20;
    public static final int DEFAULT_DDPM_STEPS = 1000;

    public TeacherSpec {
        if (kind == null) throw new IllegalArgumentException("teacher kind is required");
        if (schedule == null) schedule = DdpmSchedule.LINEAR;
        if (!(betaMin > 0) || !(betaMax > betaMin) || !Double.isFinite(betaMax))
            throw new IllegalArgumentException("--beta-min and --beta-max need 0 < --beta-min < --beta-max < inf, got --beta-min " + betaMin + ", --beta-max " + betaMax);
        if (!(timeScale > 0) || !Double.isFinite(timeScale))
            throw new IllegalArgumentException("--time-scale must be > 0, got " + timeScale);
        if (steps < 2) throw new IllegalArgumentException("DDPM steps must be >= 2, got " + steps);
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
    }

    /** The defaults for {@code kind}: beta 0.1..20, t unscaled, linear 1000-step DDPM, unconditional. */
    public static TeacherSpec of(TeacherKind kind) {
        return new TeacherSpec(kind, DEFAULT_BETA_MIN, DEFAULT_BETA_MAX, 1, DdpmSchedule.LINEAR, DEFAULT_DDPM_STEPS, 0);
    }

    public TeacherSpec withVp(double betaMin, double betaMax) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, steps, classes);
    }

    public TeacherSpec withTimeScale(double timeScale) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, steps, classes);
    }

    public TeacherSpec withSchedule(DdpmSchedule schedule) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, steps, classes);
    }

    public TeacherSpec withSteps(int steps) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, steps, classes);
    }

    public TeacherSpec withClasses(int classes) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, steps, classes);
    }

    public boolean conditional() {
        return classes > 0;
    }

    /** VP-SDE: sigma(t) = sqrt(exp(beta_min t + (beta_max - beta_min) t^2 / 2) - 1). */
    public double vpSigma(double t) {
        return Math.sqrt(Math.expm1(betaMin * t + 0.5 * (betaMax - betaMin) * t * t));
    }

    /** VP-SDE: the inverse of {@link #vpSigma}. */
    public double vpTime(double sigma) {
        double d = betaMax - betaMin;
        return (Math.sqrt(betaMin * betaMin + 2 * d * Math.log1p(sigma * sigma)) - betaMin) / d;
    }

    /** The noise levels of the DDPM table (ascending), or null for other kinds. */
    public double[] ddpmSigmas() {
        return kind.isDdpm() ? schedule.sigmas(steps) : null;
    }

    /** A short description, e.g. {@code ddpm-eps (cosine, 1000 steps, 10 classes)}. */
    public String describe() {
        String s = switch (kind) {
            case EDM -> "edm";
            case VP_EPS -> "vp-eps (beta " + betaMin + ".." + betaMax + (timeScale != 1 ? ", t x " + timeScale : "") + ")";
            case DDPM_EPS, DDPM_V -> kind + " (" + schedule + ", " + steps + " steps)";
        };
        return classes > 0 ? s + " with " + classes + " classes" : s;
    }
}
