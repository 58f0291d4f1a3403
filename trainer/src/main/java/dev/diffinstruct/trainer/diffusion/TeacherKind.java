package dev.diffinstruct.trainer.diffusion;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The parameterisation a pre-trained teacher network was trained in. {@link Teachers#asDenoiser}
 * turns each into the EDM view {@code D(x, sigma)}.
 */
public enum TeacherKind {
    /** Already an EDM denoiser: {@code net(x, sigma[, class_labels]) -> D(x, sigma)}. */
    EDM("edm", "net(x, sigma) -> D(x, sigma)"),
    /** Continuous-time VP-SDE, epsilon prediction: {@code net(x_t, t) -> eps_hat}, t in (0, 1]. */
    VP_EPS("vp-eps", "net(x_t, t float) -> eps_hat"),
    /** Discrete DDPM (1000 steps by default), epsilon prediction: {@code net(x_t, t int64) -> eps_hat}. */
    DDPM_EPS("ddpm-eps", "net(x_t, t int64) -> eps_hat"),
    /** Discrete DDPM, v prediction: {@code net(x_t, t int64) -> v_hat}. */
    DDPM_V("ddpm-v", "net(x_t, t int64) -> v_hat");

    private final String cliName;
    private final String signature;

    TeacherKind(String cliName, String signature) {
        this.cliName = cliName;
        this.signature = signature;
    }

    /** The name used on the command line, e.g. {@code vp-eps}. */
    public String cliName() {
        return cliName;
    }

    /** What the raw network is expected to compute, for error messages. */
    public String signature(boolean conditional) {
        return conditional ? signature.replace(") ->", ", class_labels) ->") : signature;
    }

    public boolean isDdpm() {
        return this == DDPM_EPS || this == DDPM_V;
    }

    /** Parses a command-line name (case-insensitive; underscores are accepted for dashes). */
    public static TeacherKind parse(String s) {
        String k = s.strip().toLowerCase(Locale.ROOT).replace('_', '-');
        for (TeacherKind t : values()) if (t.cliName.equals(k)) return t;
        throw new IllegalArgumentException("unknown teacher kind '" + s + "' (expected one of " + names() + ")");
    }

    public static String names() {
        return Arrays.stream(values()).map(TeacherKind::cliName).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return cliName;
    }
}
