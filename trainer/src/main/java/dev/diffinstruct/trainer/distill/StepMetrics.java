package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.trainer.run.LoggedMetrics;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.diffinstruct.trainer.run.LoggedMetrics.putFinite;

/**
 * One logged distillation step. Losses and norms are NaN where the step had none (e.g. the
 * generator's during fake-score warm-up). {@code stepsPerSecond} is measured since the previous
 * logged step.
 */
public record StepMetrics(long step, double lossGenerator, double lossFake, double gradNormGenerator, double gradNormFake,
                          double sigmaMean, double sigmaMin, double sigmaMax, long skippedSteps,
                          double stepsPerSecond, double wallSeconds) implements LoggedMetrics<StepMetrics> {

    @Override
    public StepMetrics timed(long skipped, double rate, double wall) {
        return new StepMetrics(step, lossGenerator, lossFake, gradNormGenerator, gradNormFake, sigmaMean, sigmaMin, sigmaMax,
                skipped, rate, wall);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        putFinite(m, "loss_g", lossGenerator);
        putFinite(m, "loss_f", lossFake);
        putFinite(m, "grad_norm_g", gradNormGenerator);
        putFinite(m, "grad_norm_f", gradNormFake);
        putFinite(m, "sigma_mean", sigmaMean);
        putFinite(m, "sigma_min", sigmaMin);
        putFinite(m, "sigma_max", sigmaMax);
        m.put("skipped", skippedSteps);
        putFinite(m, "steps_per_s", stepsPerSecond);
        putFinite(m, "wall_s", wallSeconds);
        return m;
    }
}
