package dev.diffinstruct.bench;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.diffusion.HeunSampler;
import dev.diffinstruct.trainer.distill.DistillConfig;
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

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Sampling cost: one batch from the one-step generator vs one batch from the teacher with EDM's
 * 18-step Heun sampler (35 evaluations), eval mode, no grad. Samples per second = batch / time.
 * bench/sampling.py is the PyTorch twin.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class SamplingBench {
    @Param({"unet"})
    public String model;

    @Param({"64"})
    public int batch;

    @Param({"0"})
    public int threads;

    ScriptModule generator, teacher;
    HeunSampler heun;
    Generator rng;
    long[] latent;

    @Setup(Level.Trial)
    public void setup() {
        BenchCases.applyThreads(threads);
        Torch.setGraphExecutorOptimize(false); // as the trainer and the sample command run
        DistillConfig cfg = BenchCases.config(model);
        generator = ScriptModule.load(Path.of(cfg.generator));
        generator.train(false);
        teacher = ScriptModule.load(Path.of(cfg.teacher));
        teacher.train(false);
        heun = new HeunSampler(teacher);
        rng = new Generator(7);
        latent = new long[cfg.latentShape.length + 1];
        latent[0] = batch;
        System.arraycopy(cfg.latentShape, 0, latent, 1, cfg.latentShape.length);
    }

    @TearDown(Level.Trial)
    public void teardown() {
        generator.close();
        teacher.close();
        rng.close();
    }

    @Benchmark
    public float oneStep() {
        try (var ng = Torch.noGrad();
             Tensor z = Tensor.randn(rng, DType.FLOAT32, Device.CPU, latent);
             Tensor x = generator.forward(z)) {
            return x.numel();
        }
    }

    @Benchmark
    public float heun18() {
        try (Tensor z = Tensor.randn(rng, DType.FLOAT32, Device.CPU, latent);
             Tensor x = heun.sample(z, null, rng)) {
            return x.numel();
        }
    }
}
