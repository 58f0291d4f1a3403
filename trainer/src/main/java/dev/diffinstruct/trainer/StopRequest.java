package dev.diffinstruct.trainer;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A request to stop (SIGTERM, Ctrl-C), honoured at safe points between native calls. A signal
 * must never end the process while libtorch runs (the JVM's default would: shutdown while the
 * main thread is inside a convolution crashed in libdnnl), so the CLI's signal handler only sets
 * this flag; loops poll it between batches or steps: trainers write a checkpoint and return,
 * samplers and evaluators {@link #check()} and throw {@link Stopped}.
 */
public final class StopRequest {
    private static final AtomicBoolean REQUESTED = new AtomicBoolean();
    private static volatile String signal = "a stop request";
    private static volatile int exitCode = 130;

    private StopRequest() {}

    /** Asks every loop to stop at its next safe point; {@code signal} is e.g. "SIGTERM", exit code 128 + its number. */
    public static void request(String signal, int exitCode) {
        if (REQUESTED.get()) return; // the first signal names the stop
        StopRequest.signal = signal;
        StopRequest.exitCode = exitCode;
        REQUESTED.set(true);
    }

    /** The flag the trainers poll between steps. */
    public static AtomicBoolean flag() {
        return REQUESTED;
    }

    public static boolean requested() {
        return REQUESTED.get();
    }

    public static String signal() {
        return signal;
    }

    /** 130 for SIGINT, 143 for SIGTERM, as a shell reports a process ended by that signal. */
    public static int exitCode() {
        return exitCode;
    }

    /** A safe point: throws {@link Stopped} when a stop was requested. {@code progress} says how far the work got. */
    public static void check(String progress) {
        if (REQUESTED.get()) throw new Stopped(signal, progress);
    }

    /** Thrown at a safe point after a stop request; nothing half-written is left (outputs are written atomically at the end). */
    public static final class Stopped extends RuntimeException {
        public Stopped(String signal, String progress) {
            super("stopped by " + signal + (progress == null || progress.isBlank() ? "" : " " + progress));
        }
    }
}
