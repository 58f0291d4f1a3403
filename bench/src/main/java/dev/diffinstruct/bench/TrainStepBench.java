package dev.diffinstruct.bench;

import dev.diffinstruct.trainer.distill.DistillRun;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One full Diff-Instruct iteration, the real {@link DistillRun#benchmarkStep} (fake-score update(s)
 * + generator update + EMA), on the networks bench/compare.sh prepared (PrepareModels). Its
 * PyTorch twin is bench/train_step.py, which reads the same files and config.json.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class TrainStepBench {
    @Param({"mixture", "unet"})
    public String model;

    /** libtorch intra-op threads; 0 leaves libtorch's default. */
    @Param({"0"})
    public int threads;

    DistillRun di;

    @Setup(Level.Trial)
    public void setup() {
        BenchCases.applyThreads(threads);
        di = BenchCases.trainer(model);
    }

    @TearDown(Level.Trial)
    public void teardown() {
        di.close();
    }

    @Benchmark
    public long trainStep() {
        di.benchmarkStep();
        return di.step();
    }
}
