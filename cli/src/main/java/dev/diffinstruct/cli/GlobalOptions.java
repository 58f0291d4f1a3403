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
            description = "libtorch intra-op threads (default: libtorch's choice, one per physical core: 1 on a 2-vCPU machine, where --threads 2 is faster when nothing else runs and much slower when something does).")
    void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + n);
        Torch.setThreads(n);
    }
}
