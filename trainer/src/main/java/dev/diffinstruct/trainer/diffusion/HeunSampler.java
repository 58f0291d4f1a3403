package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * EDM's second-order sampler (Karras et al. 2022, Algorithm 2; with {@code sChurn = 0}, the
 * default, the deterministic Algorithm 1) on any EDM-view denoiser {@code forward(x, sigma[,
 * class_labels])}, e.g. one from {@link Teachers#asDenoiser}.
 *
 * <p>As EDM's sampler: the state is kept in float64, the denoiser is called with float32 x and
 * sigma [N]; the levels are passed through the denoiser's {@code round_sigma} when it has one;
 * the last step (to sigma = 0) is an Euler step, so {@code steps} levels cost {@code 2 steps - 1}
 * evaluations per sample. Runs under no-grad.
 */
public final class HeunSampler {
    /**
     * @param schedule the noise levels
     * @param sChurn   total stochasticity (0: deterministic)
     * @param sTmin    churn only at levels >= sTmin
     * @param sTmax    churn only at levels <= sTmax
     * @param sNoise   scale of the fresh noise
     */
    public record Options(KarrasSchedule schedule, double sChurn, double sTmin, double sTmax, double sNoise) {
        public static final Options DEFAULT = new Options(KarrasSchedule.DEFAULT, 0, 0, Double.POSITIVE_INFINITY, 1);

        public Options {
            if (schedule == null) throw new IllegalArgumentException("schedule is required");
            if (!(sChurn >= 0) || !Double.isFinite(sChurn)) throw new IllegalArgumentException("--s-churn must be >= 0, got " + sChurn);
            if (!(sTmin >= 0) || !(sTmax >= sTmin)) throw new IllegalArgumentException("need 0 <= --s-tmin <= --s-tmax, got " + sTmin + ", " + sTmax);
            if (!(sNoise >= 0) || !Double.isFinite(sNoise)) throw new IllegalArgumentException("--s-noise must be >= 0, got " + sNoise);
        }

        public static Options deterministic(KarrasSchedule schedule) {
            return new Options(schedule, 0, 0, Double.POSITIVE_INFINITY, 1);
        }

        public Options withChurn(double sChurn, double sTmin, double sTmax, double sNoise) {
            return new Options(schedule, sChurn, sTmin, sTmax, sNoise);
        }
    }

    /** Called after each batch with (samples done, total). */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    private final ScriptModule denoiser;
    private final Options options;
    private final double[] levels; // rounded, followed by 0
    private final boolean rounds;
    private long nfe;

    public HeunSampler(ScriptModule denoiser, Options options) {
        this.denoiser = denoiser;
        this.options = options;
        this.rounds = denoiser.hasMethod("round_sigma");
        double[] s = rounds ? Teachers.roundSigmas(denoiser, options.schedule().sigmas()) : options.schedule().sigmas();
        this.levels = Arrays.copyOf(s, s.length + 1);
    }

    public HeunSampler(ScriptModule denoiser) {
        this(denoiser, Options.DEFAULT);
    }

    /** The levels actually used (after round_sigma), ending with 0. */
    public double[] levels() {
        return levels.clone();
    }

    /** Denoiser evaluations per sample: 2 steps - 1. */
    public int nfePerSample() {
        return 2 * options.schedule().steps() - 1;
    }

    /** Denoiser calls (batched forwards) made by this sampler so far. */
    public long nfe() {
        return nfe;
    }

    /**
     * Samples from standard normal {@code latents} [N, ...] (scaled by the first level here).
     * {@code classLabels} is one-hot [N, C] for a class-conditional denoiser, else null;
     * {@code g} gives the churn noise (may be null when sChurn is 0). Returns float32 [N, ...] on
     * the latents' device.
     */
    public Tensor sample(Tensor latents, Tensor classLabels, Generator g) {
        int steps = options.schedule().steps();
        long n = latents.size(0);
        Device device = latents.device();
        boolean churn = options.sChurn() > 0;
        Tensor result;
        try (Torch.GradMode ng = Torch.noGrad(); Scope outer = Scope.open()) {
            Tensor x = latents.to(DType.FLOAT64).mul(levels[0]);
            for (int i = 0; i < steps; i++) {
                dev.diffinstruct.trainer.StopRequest.check("in the teacher's sampler; nothing was written");
                double tCur = levels[i], tNext = levels[i + 1];
                try (Scope st = Scope.open()) {
                    Tensor xHat = x;
                    double tHat = tCur;
                    if (churn) {
                        double gamma = tCur >= options.sTmin() && tCur <= options.sTmax()
                                ? Math.min(options.sChurn() / steps, Math.sqrt(2) - 1) : 0;
                        tHat = round(tCur + gamma * tCur);
                        Tensor noise = x.randnLike(g);
                        xHat = x.add(noise.mul(Math.sqrt(Math.max(0, tHat * tHat - tCur * tCur)) * options.sNoise()));
                    }
                    Tensor dCur = xHat.sub(denoise(xHat, tHat, n, device, classLabels)).div(tHat);
                    Tensor xNext = xHat.add(dCur.mul(tNext - tHat));
                    if (i < steps - 1) {
                        Tensor dPrime = xNext.sub(denoise(xNext, tNext, n, device, classLabels)).div(tNext);
                        xNext = xHat.add(dCur.add(dPrime).mul(0.5 * (tNext - tHat)));
                    }
                    x.close();
                    x = st.keep(xNext);
                }
            }
            result = outer.keep(x.to(DType.FLOAT32));
        }
        return result;
    }

    private Tensor denoise(Tensor x, double sigma, long n, Device device, Tensor labels) {
        nfe++;
        Tensor x32 = x.to(DType.FLOAT32);
        Tensor s = Tensor.full(sigma, DType.FLOAT32, device, n);
        Tensor d = Denoiser.forward(denoiser, x32, s, labels);
        return d.to(DType.FLOAT64);
    }

    private double round(double sigma) {
        return rounds ? Teachers.roundSigmas(denoiser, new double[] {sigma})[0] : sigma;
    }

    /**
     * {@code n} samples of {@code shape} (no batch dimension) in batches of {@code batch}, as
     * float32 [n, shape...] on the CPU. The starting noise of sample i depends only on {@code g}'s
     * seed and i (it is drawn sample by sample), not on the batch size; churn noise is drawn per
     * batch. {@code labels}: one-hot [n, C] (any device) or null.
     */
    public Tensor sampleMany(Generator g, long n, long[] shape, int batch, Tensor labels, Device device, Progress progress) {
        if (n < 1) throw new IllegalArgumentException("number of samples must be >= 1, got " + n);
        if (batch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        long[] one = new long[shape.length + 1];
        one[0] = 1;
        System.arraycopy(shape, 0, one, 1, shape.length);
        Tensor out;
        try (Scope scope = Scope.open()) {
            List<Tensor> parts = new ArrayList<>();
            for (long start = 0; start < n; start += batch) {
                long b = Math.min(batch, n - start);
                try (Scope bs = Scope.open()) {
                    List<Tensor> rows = new ArrayList<>((int) b);
                    for (long i = 0; i < b; i++) rows.add(Tensor.randn(g, DType.FLOAT32, device, one));
                    Tensor z = Tensor.cat(rows, 0);
                    Tensor lab = labels == null ? null : labels.slice(start, start + b).to(device);
                    parts.add(bs.keep(sample(z, lab, g).to(Device.CPU)));
                }
                if (progress != null) progress.update(start + b, n);
            }
            out = scope.keep(parts.size() == 1 ? parts.get(0).alias() : Tensor.cat(parts, 0));
        }
        return out;
    }
}
