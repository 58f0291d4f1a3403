package dev.diffinstruct.bench;

import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.distill.DistillRun;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident set size over many training steps: runs {@code steps} iterations of a prepared case
 * (default: 10000 of "mixture") and prints RSS every {@code every} steps, then the growth after
 * the warm-up ({@code warmup} steps, default 3000: the JIT's code and metadata settle by then)
 * and the peak (VmHWM). Goal: growth under 1%. Run it with a fixed heap (-Xms64m -Xmx64m, as
 * bench/compare.sh does): otherwise G1 keeps growing the Java heap, which RSS counts.
 * Usage: java -cp bench/target/benchmarks.jar dev.diffinstruct.bench.MemoryMain [case] [steps] [warmup] [every]
 */
public final class MemoryMain {
    public static void main(String[] args) throws IOException {
        String name = args.length > 0 ? args[0] : "mixture";
        long steps = args.length > 1 ? Long.parseLong(args[1]) : 10_000;
        long warmup = args.length > 2 ? Long.parseLong(args[2]) : 3_000;
        long every = args.length > 3 ? Long.parseLong(args[3]) : 1_000;
        try (DistillRun di = BenchCases.trainer(name)) {
            long rssWarm = -1;
            long t0 = System.nanoTime();
            for (long s = 1; s <= steps; s++) {
                di.benchmarkStep();
                if (s == warmup) rssWarm = kb("VmRSS");
                if (s % every == 0)
                    System.out.printf("step %6d  rss %8d kB  live tensors %d%n", s, kb("VmRSS"), Torch.liveHandles()[0]);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long end = kb("VmRSS"), peak = kb("VmHWM");
            System.out.printf("case %s: %d steps in %.1f s; RSS after %d warm-up steps %d kB, at the end %d kB: growth %.2f%%; peak (VmHWM) %d kB%n",
                    name, steps, secs, warmup, rssWarm, end, 100.0 * (end - rssWarm) / rssWarm, peak);
        }
    }

    static long kb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        return -1;
    }
}
