package dev.diffinstruct.trainer.distill;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One logged step. Losses and norms are NaN where the step had none (e.g. the generator's during
 * fake-score warm-up). {@code stepsPerSecond} is measured since the previous logged step.
 */
public record StepMetrics(long step, double lossGenerator, double lossFake, double gradNormGenerator, double gradNormFake,
                          double sigmaMean, double sigmaMin, double sigmaMax, long skippedSteps,
                          double stepsPerSecond, double wallSeconds) {

    /** As written to metrics.jsonl (NaN fields left out, so every line is strict JSON). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        put(m, "loss_g", lossGenerator);
        put(m, "loss_f", lossFake);
        put(m, "grad_norm_g", gradNormGenerator);
        put(m, "grad_norm_f", gradNormFake);
        put(m, "sigma_mean", sigmaMean);
        put(m, "sigma_min", sigmaMin);
        put(m, "sigma_max", sigmaMax);
        m.put("skipped", skippedSteps);
        put(m, "steps_per_s", stepsPerSecond);
        put(m, "wall_s", wallSeconds);
        return m;
    }

    private static void put(Map<String, Object> m, String k, double v) {
        if (Double.isFinite(v)) m.put(k, v);
    }
}
