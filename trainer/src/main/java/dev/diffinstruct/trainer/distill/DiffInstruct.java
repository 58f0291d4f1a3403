package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Adam;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.DenoisingScoreMatchingLoss;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.World;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Diff-Instruct step (Luo et al., 2023): data-free distillation of a diffusion model (the
 * teacher, an EDM denoiser) into a one-step generator g(z), by minimising a divergence between the
 * diffused generator distribution and the teacher's ({@link GeneratorObjective}: the integral KL by
 * default), with an auxiliary "fake" denoiser D_phi that tracks the generator's own distribution.
 *
 * <p>{@link #step} first fits D_phi to fresh generator samples by denoising score matching, then
 * moves the generator along w(sigma) (score_phi - score_teacher) at noisy generator samples, then
 * updates the EMA of the generator. All randomness comes from one seeded {@link Generator} plus
 * libtorch's default generator (dropout); {@link DistillRun} checkpoints both and owns the networks.
 *
 * <p>Data-parallel ({@link World} of several ranks): each rank draws its share of the global
 * {@code --batch} from its own stream, and the gradients of both networks are averaged over the
 * ranks before every update, so all ranks take the same update: the one a single process would
 * take on the whole batch (to float rounding).
 */
public final class DiffInstruct implements AutoCloseable {
    private final DistillConfig cfg;
    private final Device device;
    private final Denoiser teacher, fake;
    private final GeneratorNet generator;
    private final ScriptModule ema;
    private final long[] latentShape, dataShape;
    final Adam optG, optF;
    final Generator rng;
    /** The noise streams of this process's shares of the batch: one (the rank's), or several in a test's reference run. */
    private final Generator[] streams;
    private final World world;
    /** This rank's share of --batch. */
    private final long localBatch;
    private final SigmaSampler sigmas;
    private final GeneratorObjective objective;
    private final DenoisingScoreMatchingLoss dsm;
    private final double emaBeta;

    private long step;
    /** Updates skipped on non-finite gradients (checkpointed); with the device guard, up to its last read. */
    long skipped;
    /** Skipped updates in a row, per network (not checkpointed: a resumed run starts counting anew). */
    private final Map<String, Integer> nonfiniteInARow = new HashMap<>();
    /**
     * Whether the non-finite guard runs on the device ({@link Adam#guardedStep}) and is read only
     * on logging steps and checkpoints: on CUDA, where reading the gradient norm every step would
     * stall the stream. On the CPU a read costs nothing, and the host guard reports each skipped
     * update as it happens. Tests turn it on for the CPU.
     */
    boolean deviceGuard;
    /** The device guard's skip counts already reported, per network, and the step of the last read. */
    private final Map<String, Long> reportedSkips = new HashMap<>();
    private long guardReadAt;
    /** Where the device guard reports when read outside a step (a checkpoint): the last step's listener. */
    private TrainingListener<StepMetrics> listener = TrainingListener.none();

    /** {@code teacher}: the teacher as the step calls it (maybe a frozen copy); the networks stay the caller's. */
    DiffInstruct(DistillConfig cfg, Device device, Denoiser teacher, GeneratorNet generator, ScriptModule ema, Denoiser fake,
                 long[] latentShape, long[] dataShape, World world, long... streamSeeds) {
        this.cfg = cfg;
        this.device = device;
        this.teacher = teacher;
        this.generator = generator;
        this.ema = ema;
        this.fake = fake;
        this.latentShape = latentShape.clone();
        this.dataShape = dataShape.clone();
        this.sigmas = cfg.sampler();
        this.objective = GeneratorObjective.of(cfg);
        this.dsm = new DenoisingScoreMatchingLoss(cfg.sigmaData);
        this.emaBeta = cfg.emaHalflife > 0 ? Math.pow(0.5, cfg.batch / cfg.emaHalflife) : 0;
        this.world = world;
        if (cfg.batch % world.size() != 0)
            throw new IllegalArgumentException("--batch " + cfg.batch + " is the global batch: it must divide among the " + world.size() + " processes");
        this.localBatch = cfg.batch / world.size();
        if (localBatch % streamSeeds.length != 0) throw new IllegalArgumentException("batch share " + localBatch + " does not split into " + streamSeeds.length + " streams");
        this.streams = new Generator[streamSeeds.length];
        for (int i = 0; i < streams.length; i++) streams[i] = new Generator(streamSeeds[i], device);
        this.rng = streams[0];
        this.deviceGuard = device.isCuda();
        try (Scope s = Scope.open()) {
            this.optG = new Adam(generator.module().parameters(), Adam.Options.lr(cfg.lrG).betas(cfg.beta1, cfg.beta2));
            this.optF = new Adam(fake.module().parameters(), Adam.Options.lr(cfg.lrF).betas(cfg.beta1, cfg.beta2));
        }
    }

    /**
     * Iteration {@code step}: {@code fakeSteps} updates of the fake score, then (after the warm-up)
     * one update of the generator and its EMA. Everything it allocates lives in one {@link Scope}.
     * On CUDA nothing in it waits for the device outside logging steps (the non-finite guard runs
     * on the device: {@link #deviceGuard}). Returns the step's metrics on logging steps (without
     * the loop's timing), else null.
     */
    StepMetrics step(long step, boolean logging, TrainingListener<StepMetrics> listener) {
        this.step = step;
        this.listener = listener;
        try (Scope scope = Scope.open()) {
            long n = localBatch;

            // 1. Fake score: denoising score matching on fresh, detached generator samples.
            Tensor lossF = null;
            double gradNormF = Double.NaN;
            for (int k = 0; k < cfg.fakeSteps; k++) {
                Tensor x;
                Tensor labels = labels(n); // null when unconditional; DSM sees the labels the samples were made with
                try (var noGrad = Torch.noGrad()) {
                    x = generator.forward(latents(n), labels);
                }
                Tensor sigma = draw(n, sigmas::sample);
                Tensor eps = randn(n, dataShape);
                lossF = dsm.loss(fake, x, sigma, eps, labels);
                optF.zeroGrad();
                lossF.backward();
                gradNormF = guardedStep(optF, fake.module(), "fake score", listener);
            }
            if (step <= cfg.warmupFake) {
                if (logging && deviceGuard) gradNormF = readDeviceGuards()[0];
                return logging ? metrics(null, lossF, Double.NaN, gradNormF, null) : null;
            }

            // 2. Generator: x = g(z), diffused to x_sigma = x + sigma eps, moved along
            //    grad_x = w(sigma) (score_fake - score_teacher)(x_sigma) through the objective's surrogate loss.
            Tensor labels = labels(n);
            Tensor z = latents(n);
            Tensor sigma = draw(n, sigmas::sample);
            Tensor eps = randn(n, dataShape);
            Tensor lossG = generatorLoss(generator, teacher, fake, objective, cfg.trainMode, z, sigma, eps, labels);
            optG.zeroGrad();
            lossG.backward();
            double gradNormG = guardedStep(optG, generator.module(), "generator", listener);

            // 3. Exponential moving average of the generator's weights.
            ema.emaUpdateFrom(generator.module(), emaBeta);
            if (logging && deviceGuard) {
                double[] norms = readDeviceGuards();
                gradNormF = norms[0];
                gradNormG = norms[1];
            }
            return logging ? metrics(lossG, lossF, gradNormG, gradNormF, sigma) : null;
        }
    }

    /**
     * The generator's loss for latents z, noise levels sigma and noise eps: x = g(z),
     * x_sigma = x + sigma eps, the teacher and the fake denoiser at x_sigma (without gradient
     * unless the objective differentiates them; with the teacher's dropout masks replayed for the
     * fake when {@code sameDropoutMasks}, i.e. when both run in train mode), and the objective's
     * surrogate loss whose backward gives the generator's gradient. {@code labels} (one-hot
     * [N, C], or null when unconditional) go to all three networks.
     */
    static Tensor generatorLoss(GeneratorNet generator, Denoiser teacher, Denoiser fake, GeneratorObjective objective,
                                boolean sameDropoutMasks, Tensor z, Tensor sigma, Tensor eps, Tensor labels) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor x = generator.forward(z, labels);
            boolean throughDenoisers = objective.differentiatesDenoisers(); // SiD: gradients flow through both denoisers
            Tensor xSigma = (throughDenoisers ? x : x.detach()).add(eps.mul(DenoisingScoreMatchingLoss.perSample(sigma, x.dim())));
            Tensor dTeacher, dFake;
            try (var gradMode = throughDenoisers ? Torch.enableGrad() : Torch.noGrad()) {
                // dropout draws from the default generator of the device the networks run on
                Device device = sameDropoutMasks ? eps.device() : null;
                Tensor dropoutState = sameDropoutMasks ? Torch.rngStateTensor(device) : null;
                dTeacher = teacher.forward(xSigma, sigma, labels);
                if (dropoutState != null) Torch.setRngState(device, dropoutState); // the fake sees the teacher's dropout masks
                dFake = fake.forward(xSigma, sigma, labels);
            }
            out = s.keep(objective.loss(x, dTeacher, dFake));
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
            out = s.keep(draw(n, (g, k) -> Tensor.randint(g, 0, cfg.classes, k)).oneHot(cfg.classes).to(DType.FLOAT32));
        }
        return out;
    }

    /** Standard normal latents [n, *latent_shape] from the training generator. */
    private Tensor latents(long n) {
        return randn(n, latentShape);
    }

    private Tensor randn(long n, long[] tail) {
        return draw(n, (g, k) -> Tensor.randn(g, DType.FLOAT32, device, Shapes.prepend(k, tail)));
    }

    /** n draws: from the one stream, or n / streams from each stream in turn, concatenated. */
    private Tensor draw(long n, Draw d) {
        if (streams.length == 1) return d.of(rng, n);
        Tensor out;
        try (Scope s = Scope.open()) {
            List<Tensor> parts = new ArrayList<>();
            for (Generator g : streams) parts.add(d.of(g, n / streams.length));
            out = s.keep(Tensor.cat(parts, 0));
        }
        return out;
    }

    private interface Draw {
        Tensor of(Generator g, long n);
    }

    /**
     * Clips the gradient of {@code net} to --grad-clip (if set) and takes the optimiser step,
     * unless the gradient is not finite: then the step is skipped, counted and reported.
     * Returns the gradient norm before clipping.
     */
    private double guardedStep(Adam opt, ScriptModule net, String name, TrainingListener<StepMetrics> listener) {
        world.averageGradients(net); // every rank then has the same gradient, norm and verdict below
        if (deviceGuard) {
            opt.guardedStep(cfg.gradClip > 0 ? cfg.gradClip : Double.POSITIVE_INFINITY);
            return Double.NaN; // known on logging steps: readDeviceGuards
        }
        double norm = net.clipGradNorm(cfg.gradClip > 0 ? cfg.gradClip : Double.POSITIVE_INFINITY);
        if (!Double.isFinite(norm)) {
            opt.zeroGrad(); // the update is never applied: parameters and checkpoints stay finite
            skipped++;
            int inARow = nonfiniteInARow.merge(name, 1, Integer::sum);
            String what = "step " + step + ": non-finite " + name + " gradient (norm " + norm + ")";
            applyPolicy(what, inARow);
            listener.onMessage(what + "; update skipped (" + skipped + " so far)");
            return norm;
        }
        nonfiniteInARow.remove(name);
        opt.step();
        return norm;
    }

    /** Stops the run as --on-nonfinite and --max-nonfinite ask, after {@code what} with {@code inARow} skips in a row. */
    private void applyPolicy(String what, long inARow) {
        String advice = "; nothing non-finite was applied, the last checkpoint is clean: check the teacher's outputs,"
                + " or lower --lr-g/--lr-f or set --grad-clip, then --resume";
        if ("stop".equals(cfg.onNonfinite))
            throw new NonFiniteException(what + ", stopped (--on-nonfinite stop)" + advice);
        if (cfg.maxNonfinite > 0 && inARow >= cfg.maxNonfinite)
            throw new NonFiniteException(what + ", " + inARow + " in a row: stopped (--max-nonfinite " + cfg.maxNonfinite + ")" + advice);
    }

    /**
     * Reads both networks' device guards (a host sync each, none for an optimiser that has not
     * stepped): reports the updates skipped since the last read through the last step's listener,
     * stops the run as the policy asks, and returns the last gradient norms {fake score, generator}.
     */
    private double[] readDeviceGuards() {
        double[] norms = {readDeviceGuard(optF, "fake score"), readDeviceGuard(optG, "generator")};
        guardReadAt = step;
        return norms;
    }

    private double readDeviceGuard(Adam opt, String name) {
        Adam.GuardCounts c = opt.guardCounts();
        long fresh = c.skipped() - reportedSkips.getOrDefault(name, 0L);
        if (fresh > 0) {
            reportedSkips.put(name, c.skipped());
            skipped += fresh;
            String what = (step == guardReadAt + 1 ? "step " + step : "steps " + (guardReadAt + 1) + "-" + step) + ": "
                    + fresh + " non-finite " + name + " gradient" + (fresh == 1 ? "" : "s");
            applyPolicy(what, c.worstRun());
            listener.onMessage(what + "; update" + (fresh == 1 ? "" : "s") + " skipped (" + skipped + " so far)");
        }
        return c.lastNorm();
    }

    /**
     * Updates skipped so far. With the device guard this reads it first (a checkpoint's count must
     * be exact), reporting through the last step's listener and stopping as the policy asks.
     */
    long skipped() {
        if (deviceGuard && guardReadAt < step) readDeviceGuards();
        return skipped;
    }

    /** The run ended on non-finite gradients, as --on-nonfinite / --max-nonfinite asked (CLI exit 1). */
    public static final class NonFiniteException extends IllegalStateException {
        NonFiniteException(String message) {
            super(message);
        }
    }

    private StepMetrics metrics(Tensor lossG, Tensor lossF, double gradNormG, double gradNormF, Tensor sigma) {
        // losses averaged over the ranks (a collective: every rank logs the same steps)
        return new StepMetrics(step, lossG == null ? Double.NaN : world.mean(lossG.item()), lossF == null ? Double.NaN : world.mean(lossF.item()),
                gradNormG, gradNormF,
                sigma == null ? Double.NaN : sigma.mean().item(), sigma == null ? Double.NaN : sigma.min().item(),
                sigma == null ? Double.NaN : sigma.max().item(), skipped, Double.NaN, Double.NaN);
    }

    /** The state of this rank's noise stream. */
    byte[] rngState() {
        return rng.state();
    }

    /** The optimisers' states, as checkpoint parts (the random states: {@link World#randomStateParts}). */
    void saveOptimizers(Map<String, byte[]> parts) {
        parts.put("adam_generator.bin", optG.saveState());
        parts.put("adam_fake.bin", optF.saveState());
    }

    @Override
    public void close() {
        optG.close();
        optF.close();
        for (Generator g : streams) g.close();
    }
}
