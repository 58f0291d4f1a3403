package dev.diffinstruct.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/**
 * Live progress of a long run: one redrawn line on a terminal (step, steps/s, ETA, losses, last
 * checkpoint), plain periodic lines otherwise (CI, nohup, a pipe), nothing with --quiet.
 */
final class Progress {
    private static final long REDRAW_NANOS = 100_000_000L;   // 10 redraws a second at most
    private static final long PLAIN_NANOS = 10_000_000_000L; // a log line every 10 s

    private final PrintWriter out;
    private final boolean terminal;
    private final boolean quiet;
    private final long total;
    private final long firstStep;
    private final long started = System.nanoTime();
    private long lastPrint;
    private String lastCheckpoint = "-";
    private int width;

    Progress(PrintWriter out, boolean terminal, boolean quiet, long firstStep, long total) {
        this.out = out;
        this.terminal = terminal;
        this.quiet = quiet;
        this.firstStep = firstStep;
        this.total = total;
    }

    /** Whether stdout is an interactive terminal (no redraws into files and pipes). */
    static boolean stdoutIsTerminal() {
        var c = System.console();
        return c != null && c.isTerminal() && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"));
    }

    void step(long step, Map<String, Double> values, boolean force) {
        if (quiet) return;
        long now = System.nanoTime();
        if (!force && now - lastPrint < (terminal ? REDRAW_NANOS : PLAIN_NANOS)) return;
        lastPrint = now;
        String line = line(step, values, now);
        if (terminal) {
            String padded = line.length() < width ? line + " ".repeat(width - line.length()) : line;
            width = line.length();
            out.print("\r" + padded);
        } else {
            out.println(line);
        }
        out.flush();
    }

    void checkpoint(long step, String where) {
        lastCheckpoint = "step " + step;
        if (!quiet && !terminal) out.println("checkpoint at step " + step + ": " + where);
    }

    /** Ends the redrawn line and prints a final message. */
    void done(String message) {
        if (quiet) return;
        if (terminal && width > 0) out.println();
        out.println(message);
        out.flush();
    }

    private String line(long step, Map<String, Double> values, long now) {
        double secs = (now - started) / 1e9;
        double rate = secs > 0 ? (step - firstStep) / secs : 0;
        StringBuilder b = new StringBuilder();
        int digits = Long.toString(total).length();
        b.append(String.format(Locale.ROOT, "step %" + digits + "d/%d  %5.1f%%  %.2f steps/s  ETA %s", step, total,
                100.0 * step / Math.max(1, total), rate, eta(rate > 0 ? (total - step) / rate : Double.NaN)));
        for (Map.Entry<String, Double> e : values.entrySet()) {
            if (e.getValue().isNaN()) continue; // not computed on this step (a loss during warm-up): not shown as NaN
            int slash = e.getKey().indexOf('/'); // "name/total": a count, shown as "name value/total"
            if (slash > 0) b.append(String.format(Locale.ROOT, "  %s %d/%s", e.getKey().substring(0, slash), Math.round(e.getValue()),
                    e.getKey().substring(slash + 1)));
            else b.append(String.format(Locale.ROOT, "  %s %.4g", e.getKey(), e.getValue()));
        }
        b.append("  ckpt ").append(lastCheckpoint);
        return b.toString();
    }

    static String eta(double seconds) {
        if (!Double.isFinite(seconds)) return "--:--";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
    }
}
