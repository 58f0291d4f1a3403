package dev.diffinstruct.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What distill and train-teacher print while a run goes: the progress line with the values of
 * the last logged step, checkpoint notes, notices on stderr and the closing line.
 */
final class RunReport {
    final Progress progress;
    private final boolean terminal;
    private final PrintWriter err;
    private final Map<String, Double> last = new LinkedHashMap<>();

    RunReport(Progress progress, boolean terminal, PrintWriter err) {
        this.progress = progress;
        this.terminal = terminal;
        this.err = err;
    }

    /** A logged step: {@code values} (in order) replace the last ones on the progress line; skipped steps are added when there are any. */
    void logged(long step, List<Map.Entry<String, Double>> values, long skippedSteps) {
        last.clear();
        for (Map.Entry<String, Double> e : values) last.put(e.getKey(), e.getValue());
        if (skippedSteps > 0) last.put("skipped", (double) skippedSteps);
        progress.step(step, last, !terminal);
    }

    /** Any step: on a terminal, the progress line moves on (and is forced at the last step). */
    void step(long step, long totalSteps) {
        if (terminal) progress.step(step, last, step == totalSteps);
    }

    void checkpoint(long step, Path file) {
        progress.checkpoint(step, file.toString());
    }

    void message(String line) {
        message(err, line);
    }

    /** A notice on stderr, flushed at once. */
    static void message(PrintWriter err, String line) {
        err.println(line);
        err.flush();
    }

    /** What a stopped training run tells the user to do next, unless the command knows better. */
    static final String RESUME_ADVICE = "continue with the same command and --resume";

    void stopped(long step, String advice) {
        progress.done(String.format(Locale.ROOT, "stopped at step %d; checkpoint written: %s", step, advice));
    }

    /** The end of a run that began at step start (0, or the checkpoint's step after --resume): the time is this process's. */
    void done(long start, long step, double wallSeconds, long skippedSteps) {
        progress.done(start == 0 ? String.format(Locale.ROOT, "done: %d steps in %.1f s (%d skipped)", step, wallSeconds, skippedSteps)
                : String.format(Locale.ROOT, "done: step %d; this run's %d steps (resumed at %d) in %.1f s (%d skipped)",
                        step, step - start, start, wallSeconds, skippedSteps));
    }
}
