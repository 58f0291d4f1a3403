package dev.diffinstruct.trainer.distill;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Adam;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.RunFolder;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Diff-Instruct: data-free distillation of a diffusion model (the teacher, an EDM denoiser) into
 * a one-step generator g(z) by minimising the integral KL divergence between the diffused
 * generator distribution and the teacher's, with an auxiliary "fake" denoiser D_phi that tracks
 * the generator's own distribution (Luo et al., 2023).
 *
 * <p>Each iteration ({@link #trainStep}) first fits D_phi to fresh generator samples by denoising
 * score matching, then moves the generator along w(sigma) (score_phi - score_teacher) at noisy
 * generator samples. All randomness comes from one seeded {@link Generator} plus libtorch's
 * default generator (dropout), both checkpointed, so a run is reproducible bit for bit on CPU and
 * a resumed run continues exactly as if it had never stopped.
 */
public final class DiffInstruct implements AutoCloseable {

    /** How a call to {@link #run} ended. */
    public record Result(long step, boolean complete, boolean stopped, long skippedSteps, double wallSeconds, Path out) {}

    private static final Gson GSON = new Gson();
    private static final int FORMAT = 1;
    /**
     * Options a resumed run may change; every other option is the checkpoint's, except the learning
     * rates when given explicitly ({@link DistillConfig#gave}).
     */
    private static final Set<String> RESUMABLE = Set.of("steps", "logEvery", "ckptEvery", "keepCheckpoints", "out",
            "onNonfinite", "maxNonfinite");

    private final DistillConfig cfg;
    private final Path out;
    private final Device device;
    private final ScriptModule teacher, generator, ema, fake;
    private final long[] latentShape, dataShape;
    private final Adam optG, optF;
    private final Generator rng;
    private final SigmaSampler sigmas;
    private final IklLoss ikl;
    private final DenoisingScoreMatchingLoss dsm;
    private final double emaBeta;
    private final CheckpointStore checkpoints;
    /** The teacher as the step calls it: a frozen copy where freezing keeps what it computes, else the teacher. */
    private final ScriptModule teacherStep;

    private long step;
    private long skipped;
    /** Skipped updates in a row, per network (not checkpointed: a resumed run starts counting anew). */
    private final Map<String, Integer> nonfiniteInARow = new java.util.HashMap<>();
    private double wallBefore; // seconds spent in earlier sessions of this run

    private DiffInstruct(DistillConfig cfg, ScriptModule teacher, ScriptModule generator, ScriptModule ema, ScriptModule fake,
                         long[] latentShape, long[] dataShape, long trainingSeed) {
        this.cfg = cfg;
        this.out = Path.of(cfg.out);
        this.device = DeviceOption.parse(cfg.device);
        // The training step calls a frozen copy of a teacher whose forward ignores train/eval mode
        // (its parameters, buffers and attributes become constants); the same on a fresh and a
        // resumed run, so resuming stays exact. teacher() stays the module as given.
        this.teacher = teacher;
        this.teacherStep = inferenceCopy(teacher, cfg, device, dataShape);
        this.generator = generator;
        this.ema = ema;
        this.fake = fake;
        this.latentShape = latentShape.clone();
        this.dataShape = dataShape.clone();
        this.sigmas = cfg.sampler();
        this.ikl = new IklLoss(cfg.weighting, cfg.sidAlpha);
        this.dsm = new DenoisingScoreMatchingLoss(cfg.sigmaData);
        this.emaBeta = cfg.emaHalflife > 0 ? Math.pow(0.5, cfg.batch / cfg.emaHalflife) : 0;
        this.checkpoints = RunFolder.checkpoints(out);
        this.rng = new Generator(trainingSeed, device);
        try (Scope s = Scope.open()) {
            this.optG = new Adam(generator.parameters(), Adam.Options.lr(cfg.lrG).betas(cfg.beta1, cfg.beta2));
            this.optF = new Adam(fake.parameters(), Adam.Options.lr(cfg.lrF).betas(cfg.beta1, cfg.beta2));
        }
        teacher.requiresGrad(false);
        ema.requiresGrad(false);
    }

    /**
     * A frozen copy of the teacher (torch.jit.freeze: parameters and attributes folded into the
     * graph) when that provably computes the same: its forward does not read the training flag
     * (or the run is in eval mode), freezing succeeds, and the copy agrees with the teacher on a
     * probe batch. Otherwise the teacher itself (e.g. a wrapper that calls a submodule's other
     * methods, which freezing drops).
     */
    private static ScriptModule inferenceCopy(ScriptModule teacher, DistillConfig cfg, Device device, long[] dataShape) {
        if (cfg.trainMode && teacher.readsTrainingFlag()) return teacher;
        ScriptModule frozen;
        try {
            frozen = teacher.frozenCopy();
        } catch (RuntimeException e) {
            return teacher;
        }
        try (Scope s = Scope.open(); var noGrad = Torch.noGrad(); Generator g = new Generator(0, device)) {
            Tensor x = Tensor.randn(g, DType.FLOAT32, device, Networks.prepend(4, dataShape));
            Tensor sigma = Tensor.of(0.01f, 0.3f, 2f, 40f).to(device);
            Object[] args = {x, sigma};
            if (cfg.classes > 0) {
                long[] idx = new long[4];
                for (int i = 0; i < 4; i++) idx[i] = i % cfg.classes;
                args = new Object[] {x, sigma, Tensor.of(idx, 4).oneHot(cfg.classes).to(DType.FLOAT32).to(device)};
            }
            if (frozen.forward(args).allClose(teacher.forward(args), 1e-5, 1e-6)) return frozen;
        } catch (RuntimeException e) {
            // not freezable after all
        }
        frozen.close();
        return teacher;
    }

    // ---- starting and resuming -------------------------------------------------------------------

    /**
     * Starts a fresh run in {@code cfg.out} with the given networks (taken over: closed with this
     * trainer). Refuses an output folder that already holds a run's checkpoints.
     */
    public static DiffInstruct start(DistillConfig cfg, Networks nets) {
        cfg.validate();
        Path out = RunFolder.prepare(cfg.out);
        RunFolder.requireNoRun(out, cfg.out);
        Torch.manualSeed(cfg.seed);
        ScriptModule ema = nets.generator().trainableCopy();
        DiffInstruct di = new DiffInstruct(cfg.copy(), nets.teacher(), nets.generator(), ema, nets.fake(),
                nets.latentShape(), nets.dataShape(), Networks.seed(cfg.seed, Networks.STREAM_TRAINING));
        di.writeConfig();
        return di;
    }

    /**
     * Continues the run in {@code requested.out} from its newest readable checkpoint. The
     * checkpoint's configuration is used, except for the options of a resumed run may change
     * ({@code steps}, {@code logEvery}, {@code ckptEvery}, {@code keepCheckpoints}; the RNG states tie a run to its device);
     * other differences are reported to the listener. The teacher is loaded again from the
     * checkpoint's configuration (its kind, schedule and classes), through {@code adapters}.
     * Empty if there is no checkpoint.
     */
    public static Optional<DiffInstruct> resume(DistillConfig requested, Function<DistillConfig, TeacherAdapter> adapters, TrainingListener listener) {
        requested.validate();
        Path out = RunFolder.prepare(requested.out);
        Optional<CheckpointStore.Checkpoint> found = RunFolder.checkpoints(out).latest(listener::onMessage, PARTS);
        if (found.isEmpty()) return Optional.empty();
        return Optional.of(CheckpointStore.resumeFrom(found.get(), c -> resume(c, requested, adapters, listener)));
    }

    private static final String[] PARTS = {"state.json", "config.json", "generator.pt", "generator_ema.pt", "fake.pt",
            "adam_generator.bin", "adam_fake.bin", "rng.bin", "torch_rng.bin"};

    private static DiffInstruct resume(CheckpointStore.Checkpoint c, DistillConfig requested, Function<DistillConfig, TeacherAdapter> adapters,
                                       TrainingListener listener) {
        Path out = Path.of(requested.out);
        DistillConfig saved = DistillConfig.fromJson(RunFolder.text(c.part("config.json")));
        Set<String> changeable = new java.util.HashSet<>(RESUMABLE);
        if (requested.gave("lrG")) changeable.add("lrG");
        if (requested.gave("lrF")) changeable.add("lrF");
        RunFolder.reportKeptOptions(saved.differences(requested), changeable, requested.given, listener::onMessage);
        DistillConfig cfg = saved.copy();
        if (requested.gave("lrG") && requested.lrG != saved.lrG) {
            listener.onMessage("resuming: generator learning rate " + saved.lrG + " -> " + requested.lrG);
            cfg.lrG = requested.lrG;
        }
        if (requested.gave("lrF") && requested.lrF != saved.lrF) {
            listener.onMessage("resuming: fake-score learning rate " + saved.lrF + " -> " + requested.lrF);
            cfg.lrF = requested.lrF;
        }
        cfg.steps = requested.steps;
        cfg.logEvery = requested.logEvery;
        cfg.ckptEvery = requested.ckptEvery;
        cfg.keepCheckpoints = requested.keepCheckpoints;
        cfg.onNonfinite = requested.onNonfinite;
        cfg.maxNonfinite = requested.maxNonfinite;
        cfg.out = requested.out;
        cfg.validate();
        Device device = DeviceOption.parse(cfg.device);
        JsonObject state = JsonParser.parseString(RunFolder.text(c.part("state.json"))).getAsJsonObject();
        if (state.get("format").getAsInt() != FORMAT) throw new InvalidInputException(c.file() + " has an unknown checkpoint format");
        long[] latent = GSON.fromJson(state.get("latent_shape"), long[].class);
        long[] data = GSON.fromJson(state.get("data_shape"), long[].class);

        ScriptModule teacher = Networks.teacher(cfg, adapters.apply(cfg), device, data);
        ScriptModule generator = null, ema = null, fake = null;
        try {
            generator = ScriptModule.load(c.part("generator.pt"), device).requiresGrad(true);
            ema = ScriptModule.load(c.part("generator_ema.pt"), device);
            fake = ScriptModule.load(c.part("fake.pt"), device).requiresGrad(true);
            DiffInstruct di = new DiffInstruct(cfg, teacher, generator, ema, fake, latent, data, 0);
            di.optG.loadState(c.part("adam_generator.bin"));
            di.optF.loadState(c.part("adam_fake.bin"));
            di.optG.setLr(cfg.lrG); // the saved state carries the old rate; cfg's is the one to use
            di.optF.setLr(cfg.lrF);
            di.rng.setState(c.part("rng.bin"));
            Torch.setRngState(c.part("torch_rng.bin"));
            di.step = c.step();
            di.skipped = state.get("skipped").getAsLong();
            di.wallBefore = state.get("wall_seconds").getAsDouble();
            di.writeConfig();
            listener.onMessage("resuming from " + out.toAbsolutePath().relativize(c.file().toAbsolutePath()) + " at step " + c.step() + " of " + cfg.steps);
            return di;
        } catch (RuntimeException e) {
            for (ScriptModule m : new ScriptModule[] {teacher, generator, ema, fake}) if (m != null) m.close();
            throw e;
        }
    }

    /**
     * The CLI's entry: resumes the run in {@code cfg.out} when {@code resume} is set and it has a
     * checkpoint, and otherwise starts a fresh one (building and checking the networks).
     */
    public static DiffInstruct open(DistillConfig cfg, boolean resume, Function<DistillConfig, TeacherAdapter> adapters, TrainingListener listener) {
        if (resume) {
            Optional<DiffInstruct> r = resume(cfg, adapters, listener);
            if (r.isPresent()) return r.get();
            listener.onMessage("no checkpoint in " + Path.of(cfg.out).resolve("checkpoints") + ": starting a fresh run");
        }
        cfg.validate();
        RunFolder.prepare(cfg.out);
        Networks nets = Networks.resolve(cfg, adapters.apply(cfg));
        try {
            return start(cfg, nets);
        } catch (RuntimeException e) {
            nets.close();
            throw e;
        }
    }

    // ---- the loop --------------------------------------------------------------------------------

    /**
     * Trains up to {@code cfg.steps} iterations, logging every {@code logEvery} steps and
     * checkpointing every {@code ckptEvery}. When {@code stop} becomes true the loop writes a
     * checkpoint and returns (resume continues from there). Every checkpoint, a stop and the end
     * of the run (re)write {@code generator.pt}, {@code generator_ema.pt}, {@code fake_score.pt} and
     * {@code config.json} in the output folder.
     */
    public Result run(TrainingListener listener, AtomicBoolean stop) {
        setModes();
        long session = System.nanoTime();
        long lastLogTime = session, lastLogStep = step;
        try (MetricsLog metrics = MetricsLog.open(out.resolve("metrics.jsonl"), step)) {
            while (step < cfg.steps) {
                if (stop.get()) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    session = System.nanoTime();
                    checkpoint(listener);
                    writeOutputs();
                    return new Result(step, false, true, skipped, wallBefore, out);
                }
                step++;
                boolean logging = step == 1 || step % cfg.logEvery == 0 || step == cfg.steps;
                StepMetrics m = trainStep(logging, listener);
                if (logging) {
                    long now = System.nanoTime();
                    double rate = (step - lastLogStep) / Math.max(1e-9, (now - lastLogTime) / 1e9);
                    m = new StepMetrics(m.step(), m.lossGenerator(), m.lossFake(), m.gradNormGenerator(), m.gradNormFake(),
                            m.sigmaMean(), m.sigmaMin(), m.sigmaMax(), skipped, rate, wallBefore + (now - session) / 1e9);
                    lastLogTime = now;
                    lastLogStep = step;
                    metrics.write(m);
                    listener.onStep(m);
                }
                listener.onProgress(step);
                if (step % cfg.ckptEvery == 0 || step == cfg.steps) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    session = System.nanoTime();
                    checkpoint(listener);
                    // a long run always offers its latest networks, as Python-loadable files
                    if (step != cfg.steps) writeOutputs();
                }
            }
        }
        writeOutputs();
        return new Result(step, true, false, skipped, wallBefore, out);
    }

    private void setModes() {
        generator.train(true);
        teacher.train(cfg.trainMode);
        fake.train(cfg.trainMode);
        ema.train(false);
    }

    /**
     * One iteration exactly as {@link #run} takes it (same train/eval modes, the real
     * {@link #trainStep}), without logging or checkpoints: the hook of bench/TrainStepBench.
     */
    public void benchmarkStep() {
        setModes();
        step++;
        trainStep(false, TrainingListener.NONE);
    }

    /**
     * One iteration: {@code fakeSteps} updates of the fake score, then (after the warm-up) one
     * update of the generator. Everything it allocates lives in one {@link Scope}. The only host
     * syncs outside logging steps are the gradient norms that the non-finite guard checks.
     * Returns the step's metrics on logging steps (rates not yet filled in), otherwise null.
     */
    StepMetrics trainStep(boolean logging, TrainingListener listener) {
        try (Scope scope = Scope.open()) {
            long n = cfg.batch;

            // 1. Fake score: denoising score matching on fresh, detached generator samples.
            Tensor lossF = null;
            double gradNormF = Double.NaN;
            for (int k = 0; k < cfg.fakeSteps; k++) {
                Tensor x;
                Tensor labels = labels(n); // null when unconditional; DSM sees the labels the samples were made with
                try (var noGrad = Torch.noGrad()) {
                    x = labels == null ? generator.forward(latents(n)) : generator.forward(latents(n), labels);
                }
                Tensor sigma = sigmas.sample(rng, n);
                Tensor eps = Tensor.randn(rng, DType.FLOAT32, device, x.shape());
                lossF = dsm.loss(fake, x, sigma, eps, labels);
                optF.zeroGrad();
                lossF.backward();
                gradNormF = guardedStep(optF, fake, "fake score", listener);
            }
            if (step <= cfg.warmupFake) {
                return logging ? metrics(null, lossF, Double.NaN, gradNormF, null) : null;
            }

            // 2. Generator: x = g(z), diffused to x_sigma = x + sigma eps, moved along
            //    grad_x = w(sigma) (score_fake - score_teacher)(x_sigma) through the surrogate loss.
            Tensor labels = labels(n);
            Tensor z = latents(n);
            Tensor sigma = sigmas.sample(rng, n);
            Tensor eps = Tensor.randn(rng, DType.FLOAT32, device, Networks.prepend(n, dataShape));
            Tensor lossG = generatorLoss(generator, teacherStep, fake, ikl, cfg.trainMode, z, sigma, eps, labels);
            optG.zeroGrad();
            lossG.backward();
            double gradNormG = guardedStep(optG, generator, "generator", listener);

            // 3. Exponential moving average of the generator's weights.
            ema.emaUpdateFrom(generator, emaBeta);
            return logging ? metrics(lossG, lossF, gradNormG, gradNormF, sigma) : null;
        }
    }

    /** {@link #generatorLoss(ScriptModule, ScriptModule, ScriptModule, IklLoss, boolean, Tensor, Tensor, Tensor, Tensor)} without labels. */
    static Tensor generatorLoss(ScriptModule generator, ScriptModule teacher, ScriptModule fake, IklLoss ikl,
                                boolean sameDropout, Tensor z, Tensor sigma, Tensor eps) {
        return generatorLoss(generator, teacher, fake, ikl, sameDropout, z, sigma, eps, null);
    }

    /**
     * The generator's loss for latents z, noise levels sigma and noise eps: x = g(z),
     * x_sigma = x + sigma eps, the teacher and the fake denoiser at x_sigma (without gradient,
     * except for SiD; with the same dropout masks when {@code sameDropout}), and the
     * {@link IklLoss} surrogate whose backward gives the generator's gradient. {@code labels}
     * (one-hot [N, C], or null when unconditional) go to all three networks.
     */
    static Tensor generatorLoss(ScriptModule generator, ScriptModule teacher, ScriptModule fake, IklLoss ikl,
                                boolean sameDropout, Tensor z, Tensor sigma, Tensor eps, Tensor labels) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor x = labels == null ? generator.forward(z) : generator.forward(z, labels);
            boolean throughDenoisers = ikl.differentiatesDenoisers(); // SiD: gradients flow through both denoisers
            Tensor xSigma = (throughDenoisers ? x : x.detach()).add(eps.mul(DenoisingScoreMatchingLoss.perSample(sigma, x.dim())));
            Tensor dTeacher, dFake;
            try (var gradMode = throughDenoisers ? Torch.enableGrad() : Torch.noGrad()) {
                Tensor dropoutState = sameDropout ? Torch.rngStateTensor() : null;
                dTeacher = labels == null ? teacher.forward(xSigma, sigma) : teacher.forward(xSigma, sigma, labels);
                if (dropoutState != null) Torch.setRngState(dropoutState); // the fake sees the teacher's dropout masks
                dFake = labels == null ? fake.forward(xSigma, sigma) : fake.forward(xSigma, sigma, labels);
            }
            out = s.keep(ikl.loss(x, dTeacher, dFake));
        }
        return out;
    }

    /**
     * Class labels for n samples, uniform over --classes, drawn from the training generator (so a
     * resumed run draws the same ones), one-hot float32 [n, C]; null for an unconditional run.
     */
    private Tensor labels(long n) {
        if (cfg.classes == 0) return null;
        Tensor out;
        try (Scope s = Scope.open()) {
            out = s.keep(Tensor.randint(rng, 0, cfg.classes, n).oneHot(cfg.classes).to(DType.FLOAT32));
        }
        return out;
    }

    /** Standard normal latents [n, *latent_shape] from the training generator. */
    private Tensor latents(long n) {
        return Tensor.randn(rng, DType.FLOAT32, device, Networks.prepend(n, latentShape));
    }

    /**
     * Clips the gradient of {@code net} to --grad-clip (if set) and takes the optimiser step,
     * unless the gradient is not finite: then the step is skipped, counted and reported.
     * Returns the gradient norm before clipping.
     */
    private double guardedStep(Adam opt, ScriptModule net, String name, TrainingListener listener) {
        double norm = net.gradNorm(cfg.gradClip > 0 ? cfg.gradClip : Double.POSITIVE_INFINITY);
        if (!Double.isFinite(norm)) {
            opt.zeroGrad(); // the update is never applied: parameters and checkpoints stay finite
            skipped++;
            int inARow = nonfiniteInARow.merge(name, 1, Integer::sum);
            String what = "step " + step + ": non-finite " + name + " gradient (norm " + norm + ")";
            String advice = "; nothing non-finite was applied, the last checkpoint is clean: check the teacher's outputs,"
                    + " or lower --lr-g/--lr-f or set --grad-clip, then --resume";
            if ("stop".equals(cfg.onNonfinite))
                throw new NonFiniteException(what + ", stopped (--on-nonfinite stop)" + advice);
            if (cfg.maxNonfinite > 0 && inARow >= cfg.maxNonfinite)
                throw new NonFiniteException(what + ", " + inARow + " in a row: stopped (--max-nonfinite " + cfg.maxNonfinite + ")" + advice);
            listener.onMessage(what + "; update skipped (" + skipped + " so far)");
            return norm;
        }
        nonfiniteInARow.remove(name);
        opt.step();
        return norm;
    }

    /** The run ended on non-finite gradients, as --on-nonfinite / --max-nonfinite asked (CLI exit 1). */
    public static final class NonFiniteException extends IllegalStateException {
        NonFiniteException(String message) {
            super(message);
        }
    }

    private StepMetrics metrics(Tensor lossG, Tensor lossF, double gradNormG, double gradNormF, Tensor sigma) {
        return new StepMetrics(step, lossG == null ? Double.NaN : lossG.item(), lossF == null ? Double.NaN : lossF.item(),
                gradNormG, gradNormF,
                sigma == null ? Double.NaN : sigma.mean().item(), sigma == null ? Double.NaN : sigma.min().item(),
                sigma == null ? Double.NaN : sigma.max().item(), skipped, Double.NaN, Double.NaN);
    }

    // ---- checkpoints and outputs -----------------------------------------------------------------

    /** Writes the complete training state as the checkpoint of the current step (atomically). */
    public Path checkpoint(TrainingListener listener) {
        // the guard above never applies a non-finite update; this makes sure no checkpoint can hold one
        for (ScriptModule m : new ScriptModule[] {generator, ema, fake})
            if (!parametersFinite(m))
                throw new NonFiniteException("step " + step + ": the " + (m == fake ? "fake score" : m == ema ? "EMA generator" : "generator")
                        + " has non-finite parameters; no checkpoint written, the last one is clean");
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("format", FORMAT);
        state.put("step", step);
        state.put("skipped", skipped);
        state.put("wall_seconds", wallBefore);
        state.put("latent_shape", latentShape);
        state.put("data_shape", dataShape);
        Map<String, byte[]> parts = new LinkedHashMap<>();
        parts.put("state.json", GSON.toJson(state).getBytes(StandardCharsets.UTF_8));
        parts.put("config.json", cfg.toJson().getBytes(StandardCharsets.UTF_8));
        parts.put("generator.pt", generator.toBytes());
        parts.put("generator_ema.pt", ema.toBytes());
        parts.put("fake.pt", fake.toBytes());
        parts.put("adam_generator.bin", optG.saveState());
        parts.put("adam_fake.bin", optF.saveState());
        parts.put("rng.bin", rng.state());
        parts.put("torch_rng.bin", Torch.rngState());
        Path file = checkpoints.write(step, parts, cfg.keepCheckpoints);
        listener.onCheckpoint(step, file);
        return file;
    }

    private static boolean parametersFinite(ScriptModule m) {
        try (Scope s = Scope.open()) {
            for (Tensor p : m.parameters()) if (!p.allFinite()) return false;
            return true;
        }
    }

    private void writeOutputs() {
        boolean training = generator.isTraining();
        generator.train(false);
        try {
            generator.save(out.resolve("generator.pt"));
        } finally {
            generator.train(training);
        }
        ema.save(out.resolve("generator_ema.pt"));
        fake.save(out.resolve("fake_score.pt"));
        writeConfig();
    }

    private void writeConfig() {
        RunFolder.writeConfig(out, cfg.toJson());
    }

    // ---- access ----------------------------------------------------------------------------------

    public long step() {
        return step;
    }

    public DistillConfig config() {
        return cfg;
    }

    public ScriptModule generator() {
        return generator;
    }

    public ScriptModule emaGenerator() {
        return ema;
    }

    public ScriptModule fakeScore() {
        return fake;
    }

    public ScriptModule teacher() {
        return teacher;
    }

    public long[] latentShape() {
        return latentShape.clone();
    }

    public long[] dataShape() {
        return dataShape.clone();
    }

    /** Where the networks live. */
    public Device device() {
        return device;
    }

    CheckpointStore checkpoints() {
        return checkpoints;
    }

    /**
     * n samples of the (EMA if {@code useEma}) generator, without gradient, in eval mode; in a
     * class-conditional run sample i is of class {@code i mod classes} (every class, in turn).
     */
    public Tensor sample(Generator g, long n, boolean useEma) {
        long[] labels = null;
        if (cfg.classes > 0) {
            labels = new long[Math.toIntExact(n)];
            for (int i = 0; i < labels.length; i++) labels[i] = i % cfg.classes;
        }
        return sample(g, n, useEma, labels);
    }

    /**
     * n samples of the (EMA if {@code useEma}) generator, without gradient, in eval mode; for a
     * class-conditional run {@code labels} holds each sample's class (int64 [n], or long[n]), else null.
     */
    public Tensor sample(Generator g, long n, boolean useEma, long[] labels) {
        if ((labels != null) != (cfg.classes > 0))
            throw new IllegalArgumentException(cfg.classes > 0 ? "this run has " + cfg.classes + " classes: give labels" : "this run is unconditional");
        if (labels != null && labels.length != n) throw new IllegalArgumentException("need " + n + " labels, got " + labels.length);
        ScriptModule m = useEma ? ema : generator;
        boolean training = m.isTraining();
        m.train(false);
        Tensor out;
        try (var noGrad = Torch.noGrad(); Scope s = Scope.open()) {
            Tensor z = Tensor.randn(g, DType.FLOAT32, device, Networks.prepend(n, latentShape));
            out = s.keep(labels == null ? m.forward(z)
                    : m.forward(z, dev.diffinstruct.trainer.diffusion.Teachers.oneHot(labels, cfg.classes, device)));
        } finally {
            m.train(training);
        }
        return out;
    }

    @Override
    public void close() {
        optG.close();
        optF.close();
        rng.close();
        if (teacherStep != teacher) teacherStep.close();
        teacher.close();
        generator.close();
        ema.close();
        fake.close();
    }
}
