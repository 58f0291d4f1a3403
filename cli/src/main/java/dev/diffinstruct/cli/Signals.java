package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.StopRequest;
import sun.misc.Signal;

/**
 * SIGINT and SIGTERM become a {@link StopRequest} instead of the JVM's shutdown. The JVM's own
 * handling runs the shutdown hooks and exits while the main thread may be inside libtorch; the
 * library's threads then crash in its static destructors (seen as SIGSEGV in libdnnl). Here the
 * main thread reaches a safe point (between steps or batches), keeps what can be kept, and exits
 * with 130 (SIGINT) or 143 (SIGTERM) itself.
 */
final class Signals {
    private Signals() {}

    static void install() {
        handle("INT", 130);
        handle("TERM", 143);
    }

    private static void handle(String name, int exitCode) {
        try {
            Signal.handle(new Signal(name), sig -> {
                boolean first = !StopRequest.requested();
                StopRequest.request("SIG" + name, exitCode);
                if (first) {
                    System.err.println(System.lineSeparator() + "SIG" + name + ": stopping at the next safe point"
                            + " (after the current step or batch; a training run writes a checkpoint first)");
                    System.err.flush();
                }
            });
        } catch (IllegalArgumentException e) {
            // the signal is not available here (or -Xrs): keep the JVM's default
        }
    }
}
