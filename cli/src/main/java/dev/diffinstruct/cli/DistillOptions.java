package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.GeneratorObjective;
import dev.diffinstruct.trainer.run.Resume;
import dev.diffinstruct.trainer.distill.IklLoss;
import picocli.CommandLine.Option;

/**
 * The options of {@code distill} and {@code refine} (mixed in). Unset options take
 * {@link DistillConfig}'s defaults, or {@link DistillConfig#mixtureDefaults()} when the teacher is
 * the built-in mixture; the descriptions state both.
 */
final class DistillOptions {
    @Option(names = "--teacher", paramLabel = "FILE.pt|builtin:mixture",
            description = "Teacher: a TorchScript file, or builtin:mixture (8-mode ring Gaussian mixture; default).")
    String teacher;

    @Option(names = "--teacher-kind", paramLabel = "KIND",
            description = "How the teacher's forward reads: edm = forward(x, sigma) -> D(x, sigma); vp-eps = eps(x_t, t) (continuous VP-SDE); "
                    + "ddpm-eps, ddpm-v = eps or v (x_t, t int64) (discrete DDPM) (default: edm).")
    String teacherKind;

    @Option(names = "--beta-min", paramLabel = "B", description = "vp-eps: beta(0) (default: 0.1).")
    Double betaMin;

    @Option(names = "--beta-max", paramLabel = "B", description = "vp-eps: beta(1) (default: 20).")
    Double betaMax;

    @Option(names = "--time-scale", paramLabel = "S", description = "vp-eps: the network gets t times this (999 for nets taking t in DDPM step units) (default: 1).")
    Double timeScale;

    @Option(names = "--schedule", paramLabel = "linear|cosine", description = "ddpm-*: beta schedule (linear 1e-4..0.02, or Nichol & Dhariwal's cosine) (default: linear).")
    String schedule;

    @Option(names = "--ddpm-steps", paramLabel = "T", description = "ddpm-*: number of steps of the table (default: 1000).")
    Integer ddpmSteps;

    @Option(names = "--classes", paramLabel = "C",
            description = "Classes of a class-conditional teacher forward(x, sigma, class_labels one-hot [N, C]); labels are drawn uniformly, "
                    + "the generator becomes forward(z, class_labels) and the fake score is conditional too (default: 0 = unconditional).")
    Integer classes;

    @Option(names = "--fake", paramLabel = "FILE.pt|builtin:mlp",
            description = "Initial fake score D_phi, EDM convention (default: a trainable copy of the teacher; builtin:mlp for a teacher without parameters).")
    String fake;

    @Option(names = "--data-shape", hideParamSyntax = true, paramLabel = "D[,H,W]", split = ",",
            description = "One sample's shape (default: the teacher's data_shape attribute, or the generator's output).")
    long[] dataShape;

    @Option(names = "--latent-dim", hideParamSyntax = true, paramLabel = "L[,...]", split = ",",
            description = "The generator's latent shape (default: its latent_shape attribute; the data shape for generators made here; builtin:mixture: 16).")
    long[] latentShape;

    @Option(names = "--gen-mode", paramLabel = "auto|train|eval",
            description = "Mode of a --generator file while it trains: auto = eval when it has batch norm (running statistics frozen, "
                    + "its affine weights train: what trains is what is saved), else train; train = batch statistics, running ones "
                    + "updated (default: auto).")
    String genMode;

    @Option(names = "--gen-scale", paramLabel = "S", description = "Train S g(z) + B of a --generator file whose output range is not the teacher's "
            + "(2 with --gen-shift -1 for a generator in [0, 1]); the refined file keeps the map, its submodule net is your generator (default: 1).")
    Double genScale;

    @Option(names = "--gen-shift", paramLabel = "B", description = "See --gen-scale (default: 0).")
    Double genShift;

    @Option(names = "--no-range-check", description = "Do not check that a --generator file's samples are in [-1, 1] for an image teacher.")
    boolean noRangeCheck;

    @Option(names = "--init-sigma", paramLabel = "S",
            description = "Noise level of a generator made from the teacher: g(z) = D(S z, S) (default: 2.5; the paper used 1.0).")
    Double initSigma;

    @Option(names = "--hidden", paramLabel = "N", description = "Width of the built-in MLPs (default: 128).")
    Integer hidden;

    @Option(names = "--layers", paramLabel = "N", description = "Hidden layers of the built-in MLPs (default: 3).")
    Integer layers;

    @Option(names = "--objective", paramLabel = "O",
            description = "Generator objective: ikl (Diff-Instruct's integral KL, weighted by --weighting), dmd (DMD's per-sample normalised KL gradient), sid (Score-identity Distillation) (default: ikl).")
    GeneratorObjective.Kind objective;

    @Option(names = "--weighting", paramLabel = "W",
            description = "The IKL's weight w(sigma): sigma2 (the paper's code: grad = D_fake - D_teacher) (default: sigma2). The former values dmd and sid still select those objectives.")
    String weighting;

    @Option(names = "--sid-alpha", paramLabel = "A", description = "alpha of --objective sid (default: 1.2).")
    Double sidAlpha;

    @Option(names = "--sigma-data", paramLabel = "S", description = "EDM's sigma_data for the fake-score loss weight and the built-in denoiser (default: 0.5).")
    Double sigmaData;

    @Option(names = "--sigma-sampler", paramLabel = "lognormal|karras",
            description = "Noise levels: lognormal (EDM: ln sigma ~ N(p-mean, p-std^2)) or karras (uniform over the Karras grid, rho 7) (default: lognormal).")
    String sigmaSampler;

    @Option(names = "--p-mean", paramLabel = "M", description = "Mean of ln(sigma) (default: -1.2; builtin:mixture: -2.0).")
    Double pMean;

    @Option(names = "--p-std", paramLabel = "S", description = "Std of ln(sigma) (default: 1.2; builtin:mixture: 1.5).")
    Double pStd;

    @Option(names = "--sigma-min", paramLabel = "S", description = "Smallest sigma of --sigma-sampler karras (default: 0.002).")
    Double sigmaMin;

    @Option(names = "--sigma-max", paramLabel = "S", description = "Largest sigma of --sigma-sampler karras (default: 80).")
    Double sigmaMax;

    @Option(names = "--rho", paramLabel = "R", description = "Exponent of the Karras grid of --sigma-sampler karras (default: 7).")
    Double rho;

    @Option(names = "--no-dropout", description = "Run teacher and fake score in eval mode (default: train mode, same dropout masks in both).")
    boolean noDropout;

    @Option(names = "--steps", paramLabel = "N", description = "Total iterations, warm-up included (default: 2000; builtin:mixture: 6000).")
    Long steps;

    @Option(names = "--batch", paramLabel = "N", description = "Samples per update (default: 256).")
    Integer batch;

    @Option(names = "--fake-steps", paramLabel = "K", description = "Fake-score updates per generator update (default: 1; builtin:mixture: 2).")
    Integer fakeSteps;

    @Option(names = "--warmup-fake", paramLabel = "N", description = "First N iterations train only the fake score (default: 0; builtin:mixture: 200).")
    Long warmupFake;

    @Option(names = "--lr-g", paramLabel = "LR", description = "Generator learning rate (default: 1e-4; builtin:mixture: 1e-3).")
    Double lrG;

    @Option(names = "--lr-f", paramLabel = "LR", description = "Fake-score learning rate (default: 1e-4; builtin:mixture: 2e-3).")
    Double lrF;

    @Option(names = "--betas", hideParamSyntax = true, paramLabel = "B1,B2", split = ",", description = "Adam betas for both networks (default: 0,0.999).")
    double[] betas;

    @Option(names = "--grad-clip", paramLabel = "N", description = "Clip each network's gradient norm to N; 0 = off (default: 0).")
    Double gradClip;

    @Option(names = "--precision", paramLabel = "fp32|bf16",
            description = "The networks' arithmetic in the step: fp32, or bf16 (autocast: matmuls and convolutions in bfloat16;"
                    + " weights, gradients, losses and Adam's state stay float32). For GPUs with bfloat16 (Ampere or newer);"
                    + " on a CPU without AVX512-BF16 it is slower than fp32. No fp16: it diverges here (default: fp32).")
    String precision;

    // arity 0..1 rather than negatable: picocli's --no-X sets a negatable option to its default when
    // that default is true, and --config's values arrive as defaults
    @Option(names = "--tf32", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "TensorFloat-32 for float32 matmuls and convolutions on CUDA GPUs of the Ampere generation or newer:"
                    + " several times faster, products with 10-bit mantissas; no effect on a CPU. May change on --resume"
                    + " (default: off, as in EDM's training code).")
    Boolean tf32;

    @Option(names = "--cudnn-benchmark", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "cuDNN's autotuner for convolutions on CUDA: faster steps, but the algorithms it picks (and so the"
                    + " last bits of a run) may differ between runs; --cudnn-benchmark=false for repeatable runs. No effect on a"
                    + " CPU. May change on --resume (default: on, as in EDM's training code).")
    Boolean cudnnBenchmark;

    @Option(names = "--on-nonfinite", paramLabel = "skip|stop",
            description = "A step with a NaN/Inf gradient (a teacher returning NaN/Inf, a diverging generator): skip its update, or stop the run (default: skip).")
    String onNonfinite;

    @Option(names = "--max-nonfinite", paramLabel = "N",
            description = "With --on-nonfinite skip: stop after N skipped updates of one network in a row; 0 = never (default: 20).")
    Integer maxNonfinite;

    @Option(names = "--ema-halflife", paramLabel = "SAMPLES",
            description = "Half-life of the generator's weight average, in samples; 0 = off (default: 0; builtin:mixture: 20000).")
    Double emaHalflife;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of everything random; the same seed gives the same run on CPU (default: 0).")
    Long seed;

    @Option(names = "--device", paramLabel = "DEV", description = "auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N (default: auto).")
    String device;

    @Option(names = "--out", paramLabel = "DIR", required = true,
            description = "Output folder: generator.pt, generator_ema.pt, fake_score.pt, metrics.jsonl, config.json, checkpoints/.")
    String out;

    @Option(names = "--log-every", paramLabel = "N", description = "Log metrics every N steps (default: 100).")
    Long logEvery;

    @Option(names = "--ckpt-every", paramLabel = "N", description = "Checkpoint every N steps, and at the end (default: 1000).")
    Long ckptEvery;

    @Option(names = "--keep-checkpoints", paramLabel = "N", description = "Checkpoints kept (default: 2).")
    Integer keepCheckpoints;

    @Option(names = "--config", paramLabel = "RUN.json",
            description = "Options from a JSON object (keys: long option names without dashes, e.g. {\"steps\": 4000, \"lr-g\": 1e-4}); flags given here override it.")
    java.nio.file.Path config;

    @Option(names = {"-q", "--quiet"}, description = "No progress output (errors and the final summary only).")
    boolean quiet;

    @Option(names = "--snapshot-every", paramLabel = "N",
            description = "Write a PNG of the generator's samples (the same latents each time) to OUT/snapshots/ every N steps; 0 = never (default: 0; builtin:mixture: 500).")
    Long snapshotEvery;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "on", paramLabel = "auto",
            description = "Continue the run in --out from its latest checkpoint; an --out without one is an error. --resume=auto: continue if there is a checkpoint, else start fresh (for job schedulers that rerun one command).")
    String resume;

    @Option(names = "--nproc-per-node", paramLabel = "N",
            description = "Train data-parallel in N processes on this machine (c10d: Gloo on CPU, NCCL on CUDA), as torchrun starts them; --batch is the global batch, split evenly. Multi-node: start one process per GPU with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun, Slurm) instead.")
    Integer nprocPerNode;

    /** Checks a --config file's keys against {@code spec}'s options, and how the run is shown. */
    DistillRunner.Display display(picocli.CommandLine.Model.CommandSpec spec) {
        if (config != null) ConfigFileDefaults.read(config).validate(spec);
        long every = snapshotEvery != null ? snapshotEvery : teacher == null || DistillConfig.BUILTIN_MIXTURE.equals(teacher) ? 500 : 0;
        if (every < 0) throw new dev.diffinstruct.trainer.InvalidInputException("--snapshot-every must be >= 0, got " + every);
        return new DistillRunner.Display(quiet, every, Progress.stdoutIsTerminal());
    }

    /** Runs distill/refine with these options and {@code generator} (see {@link DistillRunner#run}). */
    int run(String generator, picocli.CommandLine.Model.CommandSpec spec) {
        DistillConfig cfg = toConfig(generator);
        cfg.given = GivenOptions.fields(spec);
        DistillRunner.Display display = display(spec);
        return Launcher.train(nprocPerNode, cfg.batch, () -> cfg.device, device, cfg.out, spec, (rankDevice, world) -> {
            cfg.device = rankDevice;
            return DistillRunner.run(cfg, Resume.of(resume), display, spec.commandLine().getOut(), spec.commandLine().getErr(),
                    new DistillRunner.Hooks() {}, world);
        });
    }

    /** The configuration: defaults (the mixture's for the built-in teacher), then the options given. */
    DistillConfig toConfig(String generator) {
        String t = teacher == null ? DistillConfig.BUILTIN_MIXTURE : teacher;
        DistillConfig c = DistillConfig.BUILTIN_MIXTURE.equals(t) ? DistillConfig.mixtureDefaults() : new DistillConfig();
        c.teacher = t;
        if (teacherKind != null) c.teacherKind = teacherKind;
        if (betaMin != null) c.betaMin = betaMin;
        if (betaMax != null) c.betaMax = betaMax;
        if (timeScale != null) c.timeScale = timeScale;
        if (schedule != null) c.schedule = schedule;
        if (ddpmSteps != null) c.ddpmSteps = ddpmSteps;
        if (classes != null) c.classes = classes;
        if (generator != null) {
            c.generator = generator;
            if (!DistillConfig.BUILTIN_MLP.equals(generator)) c.latentShape = null; // the file's latent_shape, unless --latent-dim
        }
        if (fake != null) c.fake = fake;
        if (dataShape != null) c.dataShape = dataShape;
        if (latentShape != null) c.latentShape = latentShape;
        if (genMode != null) c.genMode = genMode;
        if (genScale != null) c.genScale = genScale;
        if (genShift != null) c.genShift = genShift;
        if (noRangeCheck) c.genRangeCheck = false;
        if (initSigma != null) c.initSigma = initSigma;
        if (hidden != null) c.hidden = hidden;
        if (layers != null) c.layers = layers;
        if (objective != null) c.objective = objective;
        if (weighting != null) applyWeighting(c, weighting);
        if (sidAlpha != null) c.sidAlpha = sidAlpha;
        if (sigmaData != null) c.sigmaData = sigmaData;
        if (sigmaSampler != null) c.sigmaSampler = sigmaSampler;
        if (pMean != null) c.pMean = pMean;
        if (pStd != null) c.pStd = pStd;
        if (sigmaMin != null) c.sigmaMin = sigmaMin;
        if (sigmaMax != null) c.sigmaMax = sigmaMax;
        if (rho != null) c.rho = rho;
        if (noDropout) c.trainMode = false;
        if (steps != null) c.steps = steps;
        if (batch != null) c.batch = batch;
        if (fakeSteps != null) c.fakeSteps = fakeSteps;
        if (warmupFake != null) c.warmupFake = warmupFake;
        if (lrG != null) c.lrG = lrG;
        if (lrF != null) c.lrF = lrF;
        if (betas != null) {
            if (betas.length != 2) throw new IllegalArgumentException("--betas takes two numbers, B1,B2");
            c.beta1 = betas[0];
            c.beta2 = betas[1];
        }
        if (gradClip != null) c.gradClip = gradClip;
        if (onNonfinite != null) c.onNonfinite = onNonfinite;
        if (precision != null) c.precision = precision;
        if (tf32 != null) c.tf32 = tf32;
        if (cudnnBenchmark != null) c.cudnnBenchmark = cudnnBenchmark;
        if (maxNonfinite != null) c.maxNonfinite = maxNonfinite;
        if (emaHalflife != null) c.emaHalflife = emaHalflife;
        if (seed != null) c.seed = seed;
        // resolved here, so that config.json (and a resumed run) names the concrete device
        c.device = dev.diffinstruct.torch.Device.parse(device == null ? "auto" : device).toString();
        c.out = out;
        if (logEvery != null) c.logEvery = logEvery;
        if (ckptEvery != null) c.ckptEvery = ckptEvery;
        if (keepCheckpoints != null) c.keepCheckpoints = keepCheckpoints;
        return c.validate();
    }

    /** --weighting sigma2; dmd and sid were --weighting values before --objective and still select those objectives. */
    private void applyWeighting(DistillConfig c, String w) {
        switch (w.toLowerCase(java.util.Locale.ROOT)) {
            case "sigma2" -> c.weighting = IklLoss.Weighting.SIGMA2;
            case "dmd", "sid" -> {
                GeneratorObjective.Kind k = GeneratorObjective.Kind.valueOf(w.toUpperCase(java.util.Locale.ROOT));
                if (objective != null && objective != k)
                    throw new IllegalArgumentException("--weighting " + w + " selects --objective " + w + ", but --objective is " + objective);
                c.objective = k;
            }
            default -> throw new IllegalArgumentException("--weighting must be sigma2 (dmd and sid are --objective values), got '" + w + "'");
        }
    }
}
