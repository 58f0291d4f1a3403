package dev.diffinstruct.trainer.teacher;

import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.run.RunConfig;

/**
 * Everything that defines a teacher-training run ({@code train-teacher}). Written as
 * {@code config.json} next to the outputs and inside every checkpoint; the defaults here are the
 * CLI's defaults.
 */
public final class TeacherConfig extends RunConfig<TeacherConfig> {
    // ---- data and network ------------------------------------------------------------------------
    /** An {@code ImageDataset.load} spec: fashion-mnist, fashion-mnist:test, a PNG folder, an .npy file. */
    public String data = "fashion-mnist";
    /** The TorchScript denoiser to train: forward(x, sigma) or, with classes > 0, forward(x, sigma, class_labels). */
    public String model;
    /** 0: unconditional; K: class-conditional on one-hot labels [N, K] from the dataset. */
    public int classes = 0;
    /** Random horizontal flips of half the images of each batch (augmentation). */
    public boolean hflip = false;

    // ---- objective (EDM) -------------------------------------------------------------------------
    public double sigmaData = 0.5;
    /** ln(sigma) ~ N(pMean, pStd^2). */
    public double pMean = -1.2;
    public double pStd = 1.2;

    // ---- optimisation ----------------------------------------------------------------------------
    public int batch = 128;
    public double lr = 1e-3;
    public double beta1 = 0.9;
    public double beta2 = 0.999;
    /** Linear learning-rate warm-up over this many steps; 0: none. */
    public long lrWarmup = 200;
    /** Max L2 norm of the gradient; 0: no clipping. */
    public double gradClip = 0;
    /** EMA half-life of the weights in samples (EDM's ema_halflife_kimg * 1000); 0: the EMA is the last weights. */
    public double emaHalflife = 50_000;
    /** EDM's ema_rampup_ratio: the half-life is at most this fraction of the samples seen so far; 0: off. */
    public double emaRampup = 0.05;
    /** Consecutive non-finite steps (skipped) after which the run fails. */
    public int maxSkippedInARow = 20;
    /** cuDNN's autotuner on CUDA (as distill's --cudnn-benchmark; on, as in EDM's training code). */
    public boolean cudnnBenchmark = true;

    // ---- bookkeeping (RunConfig), with this command's defaults; the device is stored resolved ----
    {
        steps = 4000;
        device = "auto";
        out = "teacher-out";
        logEvery = 50;
        ckptEvery = 500;
    }

    /** Checks ranges; throws {@link InvalidInputException} naming the option. */
    public TeacherConfig validate() {
        require(data != null && !data.isBlank(), "--data is required");
        require(model != null && !model.isBlank(), "--model is required");
        require(out != null && !out.isBlank(), "--out is required");
        require(classes >= 0, "--classes must be >= 0 (0 = unconditional), got " + classes);
        require(batch >= 1, "--batch must be >= 1, got " + batch);
        require(lr > 0 && Double.isFinite(lr), "--lr must be > 0, got " + lr);
        require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "--betas must be in [0, 1), got " + beta1 + "," + beta2);
        require(lrWarmup >= 0, "--lr-warmup must be >= 0 (0 = off), got " + lrWarmup);
        require(gradClip >= 0 && !Double.isNaN(gradClip), "--grad-clip must be >= 0 (0 = off), got " + gradClip);
        require(emaHalflife >= 0 && Double.isFinite(emaHalflife), "--ema-halflife must be >= 0 (0 = off), got " + emaHalflife);
        require(emaRampup >= 0 && Double.isFinite(emaRampup), "--ema-rampup must be >= 0 (0 = off), got " + emaRampup);
        require(sigmaData > 0 && Double.isFinite(sigmaData), "--sigma-data must be > 0, got " + sigmaData);
        require(Double.isFinite(pMean), "--p-mean must be finite, got " + pMean);
        require(pStd >= 0 && Double.isFinite(pStd), "--p-std must be >= 0, got " + pStd);
        require(maxSkippedInARow >= 1, "maxSkippedInARow must be >= 1, got " + maxSkippedInARow);
        validateRun();
        return this;
    }

    /** The learning rate of (1-based) step {@code step}: linear warm-up to {@link #lr}. */
    public double lrAt(long step) {
        return lrWarmup > 0 ? lr * Math.min(1.0, step / (double) lrWarmup) : lr;
    }

    /** EDM's EMA decay per step after {@code imagesSeen} training images: 0.5^(batch / half-life). */
    public double emaBeta(long imagesSeen) {
        double h = emaHalflife;
        if (emaRampup > 0) h = Math.min(h, imagesSeen * emaRampup);
        return h > 0 ? Math.pow(0.5, batch / h) : 0;
    }

    public static TeacherConfig fromJson(String json) {
        return fromJson(json, TeacherConfig.class);
    }
}
