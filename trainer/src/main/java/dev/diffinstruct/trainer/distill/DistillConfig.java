package dev.diffinstruct.trainer.distill;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.DdpmSchedule;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.run.RunConfig;

import java.util.Arrays;
import java.util.Set;

/**
 * Everything that defines a distillation run. Written as {@code config.json} next to the outputs
 * and inside every checkpoint; the defaults here are the CLI's defaults.
 */
public final class DistillConfig extends RunConfig<DistillConfig> {
    /** The built-in 8-mode ring Gaussian mixture teacher. */
    public static final String BUILTIN_MIXTURE = dev.diffinstruct.trainer.diffusion.MixtureTeacher.BUILTIN;
    /** The built-in MLPs (generator: {@code BuiltinModels.mlpGenerator}, fake: {@code edmMlpDenoiser}). */
    public static final String BUILTIN_MLP = "builtin:mlp";

    // ---- networks ----------------------------------------------------------------------------
    /** {@link #BUILTIN_MIXTURE} or a TorchScript file. */
    public String teacher = BUILTIN_MIXTURE;
    /** How the teacher file's forward is to be read; "edm" = it already is D(x, sigma). */
    public String teacherKind = "edm";
    /** vp-eps: the VP-SDE's beta(0) and beta(1), and the factor on t the network gets (as teacher-sample). */
    public double betaMin = TeacherSpec.DEFAULT_BETA_MIN;
    public double betaMax = TeacherSpec.DEFAULT_BETA_MAX;
    public double timeScale = 1;
    /** ddpm-*: the beta schedule (linear or cosine) and its number of steps (as teacher-sample). */
    public String schedule = "linear";
    public int ddpmSteps = TeacherSpec.DEFAULT_DDPM_STEPS;
    /**
     * Classes of a class-conditional teacher, forward(x, sigma, class_labels one-hot [N, C]); 0:
     * unconditional. With C > 0 every step draws labels uniformly, the generator is
     * forward(z, class_labels) and the fake score is conditional too.
     */
    public int classes = 0;
    /** null: a one-step generator made from the teacher (the built-in MLP for a parameter-free teacher). */
    public String generator;
    /** null: a trainable copy of the teacher (the built-in MLP denoiser for a parameter-free teacher). */
    public String fake;
    /** One sample's shape, no batch dimension; null: from the teacher's data_shape attribute or the generator's output. */
    public long[] dataShape;
    /** The generator's latent shape; null: from its latent_shape attribute (or the data shape). */
    public long[] latentShape;
    /** init_sigma of a generator made from the teacher (the paper used 1.0). */
    public double initSigma = 2.5;
    /** Width and depth of the built-in MLPs. */
    public int hidden = 128;
    public int layers = 3;
    /** A --generator file's mode while training: auto (eval when it has batch norm), train or eval ({@link UserGenerator}). */
    public String genMode = "auto";
    /** An affine map on a --generator file's output, x = genScale g(z) + genShift (2, -1 for a generator in [0, 1]). */
    public double genScale = 1;
    public double genShift = 0;
    /** Check that a --generator file's samples are in an image teacher's [-1, 1] before training. */
    public boolean genRangeCheck = true;

    // ---- objective ---------------------------------------------------------------------------
    /** The generator's objective (IKL: Diff-Instruct's). */
    public GeneratorObjective.Kind objective = GeneratorObjective.Kind.IKL;
    /** The IKL's weight w(sigma). */
    public IklLoss.Weighting weighting = IklLoss.Weighting.SIGMA2;
    public double sidAlpha = 1.2;
    public double sigmaData = 0.5;
    /** "lognormal" (EDM: p-mean, p-std) or "karras" (uniform over the Karras grid, sigma-min..sigma-max, rho). */
    public String sigmaSampler = "lognormal";
    public double pMean = -1.2;
    public double pStd = 1.2;
    public double sigmaMin = 0.002;
    public double sigmaMax = 80;
    public double rho = 7;
    /** Run teacher and fake in train mode (dropout), with identical dropout masks. */
    public boolean trainMode = true;

    // ---- optimisation ------------------------------------------------------------------------
    // steps (RunConfig): total iterations; the first warmupFake of them train only the fake score
    public int batch = 256;
    public int fakeSteps = 1;
    public long warmupFake = 0;
    public double lrG = 1e-4;
    public double lrF = 1e-4;
    public double beta1 = 0.0;
    public double beta2 = 0.999;
    /** Max L2 norm of each network's gradient; 0: no clipping. */
    public double gradClip = 0;
    /**
     * The networks' arithmetic in the step: "fp32", or "bf16" (autocast: matmuls and convolutions
     * in bfloat16; parameters, gradients, losses and Adam's state stay float32). No fp16: without
     * loss scaling its gradients underflow, and users of DMD2 report that it diverges.
     */
    public String precision = "fp32";
    /**
     * TensorFloat-32 for the float32 matmuls and convolutions on CUDA (Ampere or newer): faster,
     * 10-bit mantissa products. Off by default, as in EDM's and Diff-Instruct's training code (and
     * the CUDA checks' 1e-5 agreement with the CPU needs it off); no effect on a CPU.
     */
    public boolean tf32 = false;
    /**
     * cuDNN's autotuner for the convolutions on CUDA (faster steps; the chosen algorithms, and so
     * the last bits, may differ between runs). On by default, as in EDM's training code; no effect
     * on a CPU or on networks without convolutions.
     */
    public boolean cudnnBenchmark = true;
    /**
     * A step whose gradient (of either network) is NaN or Inf, from a teacher that returns NaN/Inf or
     * a diverging generator: "skip" drops that update and goes on, "stop" ends the run at once.
     * Nothing non-finite is ever applied, so no checkpoint holds it.
     */
    public String onNonfinite = "skip";
    /** With "skip": this many skipped updates of one network in a row end the run (0: never). */
    public int maxNonfinite = 20;
    /** EMA half-life of the generator's weights, in samples (EDM's ema_halflife_kimg * 1000); 0: no averaging. */
    public double emaHalflife = 0;

    // ---- bookkeeping (RunConfig): seed, device, out, logEvery, ckptEvery, keepCheckpoints --------
    {
        steps = 2000;
    }

    /**
     * The defaults for the built-in mixture teacher: tuned so that the built-in MLP generator
     * covers all 8 modes with weights within 0.03 of 1/8 and an energy distance to exact samples near the
     * teacher's own Heun samples' in 6000 steps (about 40 s on 2 cores).
     */
    public static DistillConfig mixtureDefaults() {
        DistillConfig c = new DistillConfig();
        c.teacher = BUILTIN_MIXTURE;
        // A 16-d latent gives the MLP room to split its mass into 8 clusters; a 2-d one leaves a
        // visible ring between the modes (energy distance 0.0027 vs 0.0005 at 6000 steps).
        c.latentShape = new long[] {16};
        c.steps = 6000;
        c.batch = 256;
        c.lrG = 1e-3;
        c.lrF = 2e-3;
        c.fakeSteps = 2;
        c.warmupFake = 200;
        c.pMean = -2.0;
        c.pStd = 1.5;
        c.emaHalflife = 20000;
        return c;
    }

    public SigmaSampler sampler() {
        return switch (sigmaSampler) {
            case "lognormal" -> new SigmaSampler.LogNormal(pMean, pStd);
            case "karras" -> new SigmaSampler.KarrasUniform(sigmaMin, sigmaMax, rho);
            default -> throw new InvalidInputException("--sigma-sampler must be lognormal or karras, got '" + sigmaSampler + "'");
        };
    }

    /**
     * How to read the teacher file: {@code --teacher-kind} with the schedule flags and
     * {@code --classes}. Throws {@link InvalidInputException} naming the option at fault.
     */
    public TeacherSpec teacherSpec() {
        TeacherKind kind;
        try {
            kind = TeacherKind.parse(teacherKind);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--teacher-kind: " + e.getMessage(), e);
        }
        DdpmSchedule sched;
        try {
            sched = DdpmSchedule.parse(schedule);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--schedule: " + e.getMessage(), e);
        }
        require(classes >= 0, "--classes must be >= 0 (0 = unconditional), got " + classes);
        require(betaMin > 0 && betaMax > betaMin && Double.isFinite(betaMax),
                "--beta-min and --beta-max need 0 < beta-min < beta-max, got " + betaMin + ", " + betaMax);
        require(timeScale > 0 && Double.isFinite(timeScale), "--time-scale must be > 0, got " + timeScale);
        require(ddpmSteps >= 2, "--ddpm-steps must be >= 2, got " + ddpmSteps);
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, sched, ddpmSteps, classes);
    }

    /** Checks ranges; throws {@link InvalidInputException} naming the option. */
    public DistillConfig validate() {
        validateRun();
        require(rho > 0 && Double.isFinite(rho), "--rho must be > 0, got " + rho);
        require(batch >= 1, "--batch must be >= 1, got " + batch);
        require(fakeSteps >= 1, "--fake-steps must be >= 1, got " + fakeSteps);
        require(warmupFake >= 0, "--warmup-fake must be >= 0, got " + warmupFake);
        require(lrG > 0 && Double.isFinite(lrG), "--lr-g must be > 0, got " + lrG);
        require(lrF > 0 && Double.isFinite(lrF), "--lr-f must be > 0, got " + lrF);
        require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "--betas must be in [0, 1), got " + beta1 + "," + beta2);
        require("skip".equals(onNonfinite) || "stop".equals(onNonfinite), "--on-nonfinite must be skip or stop, got '" + onNonfinite + "'");
        require(maxNonfinite >= 0, "--max-nonfinite must be >= 0 (0 = never stop), got " + maxNonfinite);
        require(Double.isFinite(pMean) && Math.abs(pMean) <= 20, "--p-mean must be a finite number in [-20, 20], got " + pMean);
        require(pStd > 0 && pStd <= 20, "--p-std must be in (0, 20], got " + pStd);
        require(gradClip >= 0 && Double.isFinite(gradClip), "--grad-clip must be >= 0 (0 = off), got " + gradClip);
        require("fp32".equals(precision) || "bf16".equals(precision), "fp16".equals(precision)
                ? "--precision fp16 is not offered: it diverges in this training (DMD2's users report it); use bf16"
                : "--precision must be fp32 or bf16, got '" + precision + "'");
        require(emaHalflife >= 0 && Double.isFinite(emaHalflife), "--ema-halflife must be >= 0 (0 = off), got " + emaHalflife);
        // float32 networks: beyond ~1e4 the EDM preconditioning of the built-in denoiser overflows
        require(sigmaData > 0 && sigmaData <= 1e4, "--sigma-data must be in (0, 1e4], got " + sigmaData);
        require(initSigma > 0 && initSigma <= 1e4, "--init-sigma must be in (0, 1e4], got " + initSigma);
        require(sidAlpha >= 0 && Double.isFinite(sidAlpha), "--sid-alpha must be >= 0, got " + sidAlpha);
        require(hidden >= 1 && layers >= 0, "--hidden must be >= 1 and --layers >= 0");
        require(objective != null, "--objective must be ikl, dmd or sid");
        require("auto".equals(genMode) || "train".equals(genMode) || "eval".equals(genMode), "--gen-mode must be auto, train or eval, got '" + genMode + "'");
        require(Double.isFinite(genScale) && genScale != 0 && Double.isFinite(genShift), "--gen-scale must be finite and non-zero, --gen-shift finite, got " + genScale + ", " + genShift);
        require(weighting != null, "--weighting must be sigma2");
        if (dataShape != null) for (long d : dataShape) require(d >= 1, "--data-shape must be positive, got " + Arrays.toString(dataShape));
        if (latentShape != null) for (long d : latentShape) require(d >= 1, "--latent-dim must be positive, got " + Arrays.toString(latentShape));
        try {
            sampler();
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(e.getMessage());
        }
        teacherSpec();
        if (classes > 0 && BUILTIN_MIXTURE.equals(teacher))
            throw new InvalidInputException("--classes " + classes + ": the built-in mixture teacher is unconditional (give a class-conditional teacher file)");
        return this;
    }

    // ---- resuming ------------------------------------------------------------------------------

    /** Options a resumed run takes from the request besides the loop's; the learning rates, TF32 and the autotuner too when given explicitly. */
    private static final Set<String> RESUMABLE = Set.of("onNonfinite", "maxNonfinite");

    /**
     * This (a checkpoint's) configuration as a resume that asks for {@code requested} continues
     * it: the loop's bookkeeping and the non-finite policy from the request, the learning rates,
     * TF32 and the autotuner too where the user gave them (a rate change is reported), everything else the
     * checkpoint's (differences the user asked for are reported).
     */
    DistillConfig resumedAs(DistillConfig requested, java.util.function.Consumer<String> report) {
        Set<String> changeable = new java.util.HashSet<>(RESUMABLE);
        for (String f : new String[] {"lrG", "lrF", "tf32", "cudnnBenchmark"}) if (requested.gave(f)) changeable.add(f);
        DistillConfig cfg = resumedAs(requested, changeable, report);
        if (cfg.lrG != lrG) report.accept("resuming: generator learning rate " + lrG + " -> " + cfg.lrG);
        if (cfg.lrF != lrF) report.accept("resuming: fake-score learning rate " + lrF + " -> " + cfg.lrF);
        return cfg;
    }

    // ---- JSON ----------------------------------------------------------------------------------

    /**
     * A config.json or checkpoint configuration. Before --objective existed, DMD and SiD were
     * values of "weighting"; such files read as that objective with the IKL weighting left at sigma2.
     */
    public static DistillConfig fromJson(String json) {
        JsonElement tree = JsonParser.parseString(json);
        if (tree.isJsonObject()) {
            JsonObject o = tree.getAsJsonObject();
            JsonElement w = o.get("weighting");
            if (!o.has("objective") && w != null && w.isJsonPrimitive() && Set.of("DMD", "SID").contains(w.getAsString())) {
                o.addProperty("objective", w.getAsString());
                o.addProperty("weighting", IklLoss.Weighting.SIGMA2.name());
            }
        }
        return fromJson(tree.toString(), DistillConfig.class);
    }
}
