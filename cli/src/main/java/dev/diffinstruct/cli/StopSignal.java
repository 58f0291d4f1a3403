package dev.diffinstruct.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * SIGTERM / Ctrl-C for a training loop: a JVM shutdown hook sets {@link #flag()}, which the loop
 * polls between steps, and then waits (up to two minutes) until {@link #close()} says the loop has
 * written its checkpoint and returned. Open it around the trainer:
 * {@code try (StopSignal stop = StopSignal.install("x"); Trainer t = ...) { t.run(listener, stop.flag()); }}
 * (resources close in reverse order: the trainer first, then the hook is released).
 */
final class StopSignal implements AutoCloseable {
    private final AtomicBoolean stop = new AtomicBoolean();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    private StopSignal(String name) {
        hook = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, name);
    }

    static StopSignal install(String name) {
        StopSignal s = new StopSignal(name);
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /** Becomes true when the process is asked to stop. */
    AtomicBoolean flag() {
        return stop;
    }

    /** The loop is done (checkpoint written or failed): lets a waiting shutdown go on, and removes the hook. */
    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // the JVM is already shutting down: the hook is running
        }
    }
}
