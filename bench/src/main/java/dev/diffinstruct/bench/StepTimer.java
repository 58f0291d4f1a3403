package dev.diffinstruct.bench;

import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.distill.DistillRun;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * A quick A/B tool for a busy machine (not the reported numbers: those are JMH's): runs a prepared
 * case and prints the mean wall time and the mean CPU time of this thread per training step. CPU
 * time hardly moves with other processes' load as long as libtorch runs one thread.
 * Usage: StepTimer [case] [steps] [warmup steps] [threads] [noflush: denormals not flushed to zero]
 */
public final class StepTimer {
    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "mixture";
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        BenchCases.applyThreads(args.length > 3 ? Integer.parseInt(args[3]) : 1);
        boolean flush = !(args.length > 4 && args[4].equals("noflush"));
        Torch.setFlushDenormal(flush);
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (DistillRun di = BenchCases.trainer(name)) {
            for (int i = 0; i < warmup; i++) di.benchmarkStep();
            long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) di.benchmarkStep();
            long c1 = mx.getCurrentThreadCpuTime(), t1 = System.nanoTime();
            System.out.printf("%s java%s: wall %.1f us/step, cpu %.1f us/step%n", name, flush ? "" : " (denormals not flushed)", (t1 - t0) / 1e3 / steps, (c1 - c0) / 1e3 / steps);
        }
    }
}
