package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Torch;
import picocli.CommandLine.Option;

/** Options every command takes (mixed in). */
public final class GlobalOptions {
    // Read by the exception handler, which has no access to the command object.
    static volatile boolean debug;

    @Option(names = "--debug", description = "Print stack traces of errors.")
    void setDebug(boolean on) {
        debug = on;
    }

    @Option(names = "--threads", paramLabel = "N",
            description = "libtorch intra-op threads (default: libtorch's choice, normally one per core).")
    void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + n);
        Torch.setThreads(n);
    }
}
