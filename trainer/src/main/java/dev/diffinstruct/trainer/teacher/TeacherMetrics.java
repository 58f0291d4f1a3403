package dev.diffinstruct.trainer.teacher;

import dev.diffinstruct.trainer.run.LoggedMetrics;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.diffinstruct.trainer.run.LoggedMetrics.putFinite;

/**
 * One logged teacher-training step; {@code loss} is the mean loss of the steps since the previous
 * logged step (per image, summed over pixels, as the fake score's loss), {@code gradNorm} the last
 * step's gradient norm before clipping.
 */
public record TeacherMetrics(long step, double loss, double gradNorm, double lr, double emaHalflifeImages, long epoch,
                             long skippedSteps, double stepsPerSecond, double wallSeconds) implements LoggedMetrics<TeacherMetrics> {

    @Override
    public TeacherMetrics timed(long skipped, double rate, double wall) {
        return new TeacherMetrics(step, loss, gradNorm, lr, emaHalflifeImages, epoch, skipped, rate, wall);
    }

    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        putFinite(m, "loss", loss);
        putFinite(m, "grad_norm", gradNorm);
        putFinite(m, "lr", lr);
        putFinite(m, "ema_halflife", emaHalflifeImages);
        m.put("epoch", epoch);
        m.put("skipped", skippedSteps);
        putFinite(m, "steps_per_s", stepsPerSecond);
        putFinite(m, "wall_s", wallSeconds);
        return m;
    }
}
