package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.run.LoggedMetrics;
import dev.diffinstruct.trainer.run.TrainingListener;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongConsumer;

/** How a training command shows its run: the progress line, the logged metrics, checkpoint notes and messages. */
final class RunListener<M extends LoggedMetrics<M>> implements TrainingListener<M> {
    final RunReport report;
    private final long steps;
    private final Function<M, List<Map.Entry<String, Double>>> shown;
    private final LongConsumer afterStep;

    /** {@code shown}: the figures of a logged step for the progress line; {@code afterStep}: e.g. snapshots. */
    RunListener(RunReport report, long steps, Function<M, List<Map.Entry<String, Double>>> shown, LongConsumer afterStep) {
        this.report = report;
        this.steps = steps;
        this.shown = shown;
        this.afterStep = afterStep;
    }

    /** Messages only (resuming, kept options), for the start of a run before its progress line exists. */
    static <M> TrainingListener<M> messages(PrintWriter err) {
        return new TrainingListener<>() {
            @Override
            public void onMessage(String line) {
                RunReport.message(err, line);
            }
        };
    }

    @Override
    public void onStep(M m) {
        report.logged(m.step(), shown.apply(m), m.skippedSteps());
    }

    @Override
    public void onProgress(long step, double loss) {
        report.step(step, steps);
        afterStep.accept(step);
    }

    @Override
    public void onCheckpoint(long step, Path file) {
        report.checkpoint(step, file);
    }

    @Override
    public void onMessage(String line) {
        report.message(line);
    }
}
