package dev.diffinstruct.trainer.teacher;

import dev.diffinstruct.torch.Adam;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.data.BatchSampler;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.DenoisingScoreMatchingLoss;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.World;

import java.util.List;
import java.util.Locale;

/**
 * One teacher-training step, EDM's (Karras et al., 2022): a minibatch (optionally flipped), noise
 * levels {@code ln sigma ~ N(pMean, pStd^2)} and noise, one Adam step on
 * {@code lambda(sigma) |D(x + sigma n, sigma) - x|^2} (learning rate warmed up linearly, the
 * gradient optionally clipped, a non-finite one skipped), then the EMA of the weights with EDM's
 * half-life in images (ramped up with the images seen). All randomness comes from two seeded
 * {@link Generator}s (batches; sigma/noise/flips) plus libtorch's default generator (dropout).
 */
final class TeacherStep implements AutoCloseable {
    private static final long STREAM_DATA = 0x6461746100000001L, STREAM_NOISE = 0x6e6f697365000002L;

    private final TeacherConfig cfg;
    private final Device device;
    private final Denoiser model;
    private final ScriptModule ema;
    final Adam opt;
    final Generator dataRng, rng;
    final BatchSampler batches;
    private final SigmaSampler sigmas;
    private final DenoisingScoreMatchingLoss dsm;
    private final World world;

    long skipped, skippedInARow;
    double lossSum; // losses of the steps since the last logged step
    long lossCount;
    private double lastLoss = Double.NaN;

    /** The networks stay the caller's. */
    TeacherStep(TeacherConfig cfg, Device device, ImageDataset data, Denoiser model, ScriptModule ema, World world) {
        this.cfg = cfg;
        this.world = world;
        this.device = device;
        this.model = model;
        this.ema = ema;
        this.dataRng = new Generator(cfg.seed ^ STREAM_DATA); // on the CPU: the batch order is device-independent
        // rank r's noise stream; rank 0's is a single process's. The batch order is the same on every rank.
        this.rng = new Generator((cfg.seed ^ STREAM_NOISE) + 0x9E3779B97F4A7C15L * world.rank(), device);
        this.batches = new BatchSampler(data, cfg.batch, dataRng);
        this.sigmas = new SigmaSampler.LogNormal(cfg.pMean, cfg.pStd);
        this.dsm = new DenoisingScoreMatchingLoss(cfg.sigmaData);
        try (Scope s = Scope.open()) {
            this.opt = new Adam(model.module().parameters(), Adam.Options.lr(cfg.lrAt(1)).betas(cfg.beta1, cfg.beta2));
        }
    }

    /** Step {@code step}; on logging steps, its metrics (mean loss since the last logged step), else null. */
    TeacherMetrics step(long step, boolean logging, TrainingListener<TeacherMetrics> listener) {
        double[] lossAndNorm = train(step, listener);
        lastLoss = lossAndNorm[0];
        if (Double.isFinite(lastLoss)) {
            lossSum += lastLoss;
            lossCount++;
        }
        if (!logging) return null;
        TeacherMetrics m = new TeacherMetrics(step, lossCount > 0 ? lossSum / lossCount : Double.NaN, lossAndNorm[1], cfg.lrAt(step),
                emaHalflife(step * (long) cfg.batch), batches.epoch(), skipped, Double.NaN, Double.NaN);
        lossSum = 0;
        lossCount = 0;
        return m;
    }

    double lastLoss() {
        return lastLoss;
    }

    /**
     * The step itself. Everything it allocates lives in one {@link Scope}. Returns {loss,
     * gradient norm before clipping} (NaN loss when the step was skipped).
     */
    private double[] train(long step, TrainingListener<TeacherMetrics> listener) {
        try (Scope scope = Scope.open()) {
            BatchSampler.Batch b = batches.next();
            Tensor x = b.images(), y = b.labels();
            if (world.size() > 1) { // this rank's share of the global batch
                long share = x.size(0) / world.size();
                x = x.narrow(0, world.rank() * share, share);
                if (y != null) y = y.narrow(0, world.rank() * share, share);
            }
            long n = x.size(0);
            if (cfg.hflip) { // each image mirrored left-right with probability 1/2 (exact: the blend weights are 0 or 1)
                Tensor m = Tensor.rand(rng, DType.FLOAT32, device, n, 1, 1, 1).lt(0.5).to(DType.FLOAT32);
                Tensor reversed = Tensor.arange(x.size(3) - 1, -1, -1, DType.INT64, device);
                x = x.mul(m.rsub(1.0)).add(x.indexSelect(3, reversed).mul(m));
            }
            Tensor labels = cfg.classes > 0 ? y.oneHot(cfg.classes).to(DType.FLOAT32) : null;
            Tensor sigma = sigmas.sample(rng, n);
            Tensor eps = Tensor.randn(rng, DType.FLOAT32, device, x.shape());

            Tensor loss = dsm.loss(model, x, sigma, eps, labels);
            opt.zeroGrad();
            loss.backward();
            world.averageGradients(model.module());
            double lossValue = world.mean(loss.item()); // the same on every rank, and so is the skip below
            double norm = Tensor.clipGradNorm(model.module().parameters(), cfg.gradClip > 0 ? cfg.gradClip : Double.POSITIVE_INFINITY);
            if (!Double.isFinite(lossValue) || !Double.isFinite(norm)) {
                opt.zeroGrad();
                skipped++;
                skippedInARow++;
                listener.onMessage(String.format(Locale.ROOT, "step %d: non-finite %s (loss %s, gradient norm %s); update skipped (%d so far)",
                        step, Double.isFinite(lossValue) ? "gradient" : "loss", lossValue, norm, skipped));
                if (skippedInARow >= cfg.maxSkippedInARow)
                    throw new IllegalStateException("training diverged: " + skippedInARow + " non-finite steps in a row (at step " + step
                            + "); lower --lr or set --grad-clip, and resume from the last checkpoint");
                lossValue = Double.NaN;
            } else {
                skippedInARow = 0;
                opt.setLr(cfg.lrAt(step));
                opt.step();
            }

            // EMA of the weights (EDM): ema = beta ema + (1 - beta) w
            double beta = cfg.emaBeta(step * (long) cfg.batch);
            try (var noGrad = Torch.noGrad()) {
                List<Tensor> avg = ema.parameters(), cur = model.module().parameters();
                for (int i = 0; i < avg.size(); i++) {
                    if (beta == 0) avg.get(i).copyFromInPlace(cur.get(i));
                    else avg.get(i).mulInPlace(beta).addScaledInPlace(cur.get(i), 1 - beta);
                }
            }
            return new double[] {lossValue, norm};
        }
    }

    private double emaHalflife(long imagesSeen) {
        return cfg.emaRampup > 0 ? Math.min(cfg.emaHalflife, imagesSeen * cfg.emaRampup) : cfg.emaHalflife;
    }

    @Override
    public void close() {
        opt.close();
        rng.close();
        dataRng.close();
        batches.close();
    }
}
