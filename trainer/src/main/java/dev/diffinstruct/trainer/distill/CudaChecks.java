package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.run.TrainingListener;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The checks a CUDA machine runs (scripts/gpu-check.sh through bench's GpuCheck, and
 * CudaChecksTest where Maven runs on a GPU): each compares the CUDA path with the CPU one or with
 * itself and returns one row of the report. Never part of the CPU suite's verdict: without a GPU
 * the callers skip.
 */
public final class CudaChecks {
    private CudaChecks() {}

    /** One row: what was checked, whether it held, and the figures. */
    public record Check(String name, boolean ok, String detail) {}

    /** The built-in mixture case (MLP generator and fake score, batch 256) on {@code device}. */
    static DistillConfig mixture(Path out, Device device) {
        DistillConfig c = DistillConfig.mixtureDefaults();
        c.out = out.toString();
        c.device = device.toString();
        c.steps = 200;
        c.warmupFake = 20;
        c.logEvery = 10;
        c.ckptEvery = 50;
        c.seed = 7;
        return c;
    }

    /**
     * The integral-KL gradient of the generator on CUDA against the CPU: the same networks, the
     * same z, sigma and eps (drawn on the CPU), eval mode (no dropout to draw). Max |difference|
     * relative to the largest gradient entry, within {@code tolerance} (1e-5: float32 with TF32
     * off, as a distillation runs without --tf32).
     */
    public static Check iklGradient(Path dir, Device cuda, double tolerance) {
        double rel = iklRelativeDiff(dir.resolve("ikl"), cuda);
        return new Check("IKL gradient CUDA vs CPU", rel <= tolerance, String.format("max |diff| / max |grad| = %.2e (tolerance %.0e)", rel, tolerance));
    }

    /**
     * The same gradient with TF32 on (--tf32): 10-bit mantissa products on Ampere or newer, so
     * within 1e-2 of the CPU's rather than 1e-5; on older GPUs (and the CPU) TF32 changes nothing.
     */
    public static Check tf32Gradient(Path dir, Device cuda) {
        Torch.setTf32(true, true);
        try {
            double rel = iklRelativeDiff(dir.resolve("tf32"), cuda);
            return new Check("IKL gradient CUDA with TF32 vs CPU", rel <= 1e-2,
                    String.format("max |diff| / max |grad| = %.2e (tolerance 1e-2; the same as without TF32 before Ampere)", rel));
        } finally {
            Torch.setTf32(false, false);
        }
    }

    private static double iklRelativeDiff(Path out, Device cuda) {
        DistillConfig cfg = mixture(out, Device.CPU);
        double worst = 0, scale = 0;
        try (Scope s = Scope.open(); Networks cpu = Networks.resolve(cfg); Generator g = new Generator(3)) {
            long n = 256;
            Tensor z = Tensor.randn(g, n, cfg.latentShape[0]), sigma = cfg.sampler().sample(g, n), eps = Tensor.randn(g, n, 2);
            List<float[]> a = generatorGradient(cpu, cfg, Device.CPU, false, z, sigma, eps);
            List<float[]> b = generatorGradient(cpu, cfg, cuda, false, z, sigma, eps);
            for (int i = 0; i < a.size(); i++)
                for (int j = 0; j < a.get(i).length; j++) {
                    worst = Math.max(worst, Math.abs(a.get(i)[j] - b.get(i)[j]));
                    scale = Math.max(scale, Math.abs(a.get(i)[j]));
                }
        }
        return worst / Math.max(scale, 1e-30);
    }

    /**
     * The generator's gradient of one IKL step, per parameter, for copies of {@code nets} on
     * {@code device} in eval mode (no dropout to draw), under bf16 autocast when {@code bf16}.
     */
    private static List<float[]> generatorGradient(Networks nets, DistillConfig cfg, Device device, boolean bf16,
                                                   Tensor z, Tensor sigma, Tensor eps) {
        List<float[]> grads = new ArrayList<>();
        try (Scope s = Scope.open(); ScriptModule gen = ScriptModule.load(nets.generator().toBytes(), device).requiresGrad(true);
             ScriptModule teacher = ScriptModule.load(nets.teacher().toBytes(), device);
             ScriptModule fake = ScriptModule.load(nets.fake().toBytes(), device)) {
            for (ScriptModule m : new ScriptModule[] {gen, teacher, fake}) m.train(false);
            GeneratorNet gn = new GeneratorNet(gen, 0);
            Denoiser dt = new Denoiser(teacher, 0), df = new Denoiser(fake, 0);
            if (bf16) {
                gn.autocast(DType.BFLOAT16);
                dt.autocast(DType.BFLOAT16);
                df.autocast(DType.BFLOAT16);
            }
            DiffInstruct.generatorLoss(gn, dt, df, GeneratorObjective.of(cfg), false, z.to(device), sigma.to(device), eps.to(device), null)
                    .backward();
            for (Tensor p : gen.parameters()) grads.add(p.grad().to(Device.CPU).toFloatArray());
        }
        return grads;
    }

    /** Outputs of the run's generator, EMA and fake score on fixed inputs, on the CPU (ResumeTest compares them too). */
    static float[][] fingerprint(DistillRun di, Device device) {
        try (Scope s = Scope.open(); Generator g = new Generator(99, device)) {
            float[] gen = di.sample(g, 256, false).to(Device.CPU).toFloatArray();
            float[] ema = di.sample(g, 256, true).to(Device.CPU).toFloatArray();
            Tensor x = Tensor.randn(g, DType.FLOAT32, device, 256, 2);
            float[] fake;
            try (var ng = Torch.noGrad()) {
                fake = di.fakeScore().forward(x, Tensor.full(0.7, 256).to(device)).to(Device.CPU).toFloatArray();
            }
            return new float[][] {gen, ema, fake};
        }
    }

    private static float[][] straight(DistillConfig cfg) {
        try (DistillRun di = DistillRun.open(cfg, false, TrainingListener.none())) {
            di.run(TrainingListener.none(), new AtomicBoolean());
            return fingerprint(di, Device.parse(cfg.device));
        }
    }

    private static double maxDiff(float[][] a, float[][] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[i].length; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
        return worst;
    }

    /**
     * A 200-step CUDA distillation straight, and stopped at step 70 then resumed: the same outputs
     * bit for bit where CUDA is deterministic (the built-in MLPs: cuBLAS and elementwise kernels);
     * also the CPU run's outputs, which differ by rounding only.
     */
    public static Check distillAndResume(Path dir, Device cuda) {
        float[][] ref = straight(mixture(dir.resolve("straight"), cuda));
        DistillConfig cfg = mixture(dir.resolve("resumed"), cuda);
        AtomicBoolean stop = new AtomicBoolean();
        try (DistillRun di = DistillRun.open(cfg, false, TrainingListener.none())) {
            di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onStep(StepMetrics m) {
                    if (m.step() == 70) stop.set(true);
                }
            }, stop);
        }
        float[][] resumed;
        try (DistillRun di = DistillRun.open(cfg, true, TrainingListener.none())) {
            di.run(TrainingListener.none(), new AtomicBoolean());
            resumed = fingerprint(di, cuda);
        }
        double resumeDiff = maxDiff(ref, resumed);
        double cpuDiff = maxDiff(ref, straight(mixture(dir.resolve("cpu"), Device.CPU)));
        return new Check("200-step CUDA distill; stop at 70 + resume", resumeDiff == 0,
                String.format("resumed vs straight: max |diff| %.2e%s; CUDA vs CPU run: %.2e", resumeDiff, resumeDiff == 0 ? " (bit-identical)" : "", cpuDiff));
    }

    /** One-step sampling on CUDA against the CPU with the same generator weights and latents. */
    public static Check sampling(Path dir, Device cuda) {
        DistillConfig cfg = mixture(dir.resolve("sampling"), Device.CPU);
        try (Scope s = Scope.open(); Networks cpu = Networks.resolve(cfg); Generator g = new Generator(5);
             ScriptModule onCuda = ScriptModule.load(cpu.generator().toBytes(), cuda)) {
            cpu.generator().train(false);
            onCuda.train(false);
            Tensor z = Tensor.randn(g, 4096, cfg.latentShape[0]);
            float[] a, b;
            try (var ng = Torch.noGrad()) {
                a = cpu.generator().forward(z).toFloatArray();
                b = onCuda.forward(z.to(cuda)).to(Device.CPU).toFloatArray();
            }
            double worst = 0, scale = 0;
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]));
                scale = Math.max(scale, Math.abs(a[i]));
            }
            double rel = worst / Math.max(scale, 1e-30);
            return new Check("one-step sampling CUDA vs CPU (4096)", rel <= 1e-5, String.format("max |diff| / max |x| = %.2e", rel));
        }
    }

    /**
     * bf16 on CUDA: the generator's gradient of one step under autocast points where the fp32 one
     * does (cosine >= 0.99: bfloat16 keeps 8 bits of mantissa), and a 200-step bf16 run stays finite.
     * (Trajectories of two precisions drift apart, so the runs' outputs are not compared.)
     */
    public static Check bf16Step(Path dir, Device cuda) {
        DistillConfig cfg = mixture(dir.resolve("bf16-grad"), Device.CPU);
        double[] dot = new double[3]; // <a,b>, |a|^2, |b|^2
        try (Scope s = Scope.open(); Networks cpu = Networks.resolve(cfg); Generator g = new Generator(4)) {
            long n = 256;
            Tensor z = Tensor.randn(g, n, cfg.latentShape[0]), sigma = cfg.sampler().sample(g, n), eps = Tensor.randn(g, n, 2);
            List<float[]> a = generatorGradient(cpu, cfg, cuda, false, z, sigma, eps);
            List<float[]> b = generatorGradient(cpu, cfg, cuda, true, z, sigma, eps);
            for (int i = 0; i < a.size(); i++)
                for (int j = 0; j < a.get(i).length; j++) {
                    dot[0] += (double) a.get(i)[j] * b.get(i)[j];
                    dot[1] += (double) a.get(i)[j] * a.get(i)[j];
                    dot[2] += (double) b.get(i)[j] * b.get(i)[j];
                }
        }
        double cosine = dot[0] / Math.sqrt(dot[1] * dot[2]);
        DistillConfig c = mixture(dir.resolve("bf16"), cuda);
        c.precision = "bf16";
        boolean finite = true;
        for (float[] f : straight(c)) for (float v : f) finite &= Float.isFinite(v);
        return new Check("bf16 step and 200-step run", finite && cosine >= 0.99 && cosine < 1,
                String.format("gradient cosine bf16 vs fp32 %.6f; 200-step bf16 run finite: %s", cosine, finite));
    }

    /**
     * All checks on {@code cuda} (cuda:0 on a GPU machine; the CPU suite passes the CPU, which checks
     * the checks themselves), in the report's order; a check that throws is a failed row with its message.
     */
    public static List<Check> all(Path dir, Device cuda) {
        List<Check> rows = new ArrayList<>();
        Torch.setTf32(false, false); // LibTorch's default has TF32 convolutions; the 1e-5 rows need float32
        List<java.util.function.Supplier<Check>> checks = List.of(() -> iklGradient(dir, cuda, 1e-5), () -> tf32Gradient(dir, cuda),
                () -> sampling(dir, cuda), () -> distillAndResume(dir, cuda), () -> bf16Step(dir, cuda));
        String[] names = {"IKL gradient CUDA vs CPU", "IKL gradient CUDA with TF32 vs CPU", "one-step sampling CUDA vs CPU",
                "CUDA distill + resume", "bf16 distill"};
        for (int i = 0; i < checks.size(); i++) {
            try {
                rows.add(checks.get(i).get());
            } catch (RuntimeException e) {
                rows.add(new Check(names[i], false, "failed: " + e.getMessage().lines().findFirst().orElse(e.toString())));
            }
        }
        return rows;
    }
}
