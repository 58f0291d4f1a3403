package dev.diffinstruct.trainer.run;

import java.util.Map;

/**
 * One logged step of a trainer, as {@link TrainingLoop} completes it (the loop knows the timing
 * and the skipped count, the step knows its losses) and writes it to {@code metrics.jsonl}.
 */
public interface LoggedMetrics<M extends LoggedMetrics<M>> {
    long step();

    /** Updates skipped so far (non-finite gradients). */
    long skippedSteps();

    /** These metrics with the loop's figures filled in. */
    M timed(long skippedSteps, double stepsPerSecond, double wallSeconds);

    /** As written to metrics.jsonl (non-finite fields left out, so every line is strict JSON). */
    Map<String, Object> toMap();

    /** Puts {@code v} under {@code k} when it is finite: metrics.jsonl holds strict JSON. */
    static void putFinite(Map<String, Object> m, String k, double v) {
        if (Double.isFinite(v)) m.put(k, v);
    }
}
