package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;

import java.util.Arrays;

/**
 * How samples spread over the components of a Gaussian-mixture teacher: each sample is assigned
 * to its nearest mode (in units of that mode's std), giving per-mode weights; a mode is covered
 * when it holds at least a fifth of its true weight. {@code maxWeightError} is
 * {@code max_k |weight_k - true weight_k|}; {@code within3Std} is the fraction of samples within
 * three stds of their nearest mode (sample quality).
 */
public record ModeCoverage(double[] weights, double[] trueWeights, int modesCovered, double maxWeightError, double within3Std) {

    public static ModeCoverage of(MixtureTeacher teacher, Tensor samples) {
        int k = teacher.components();
        try (Scope s = Scope.open()) {
            long n = samples.size(0);
            Tensor idx = teacher.nearestMode(samples);
            long[] counts = idx.bincount(k).toLongArray();
            double[] w = new double[k];
            int covered = 0;
            double maxErr = 0;
            for (int i = 0; i < k; i++) {
                w[i] = counts[i] / (double) n;
                if (w[i] >= 0.2 * teacher.weights()[i]) covered++;
                maxErr = Math.max(maxErr, Math.abs(w[i] - teacher.weights()[i]));
            }
            // distance to the assigned mode, in that mode's stds
            double[][] mu = teacher.means();
            int d = teacher.dim();
            float[] flat = new float[k * d];
            float[] sd = new float[k];
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < d; j++) flat[i * d + j] = (float) mu[i][j];
                sd[i] = (float) teacher.stds()[i];
            }
            Tensor means = Tensor.of(flat, k, d).indexSelect(0, idx);
            Tensor dist = samples.sub(means).norm(new long[] {1}, false).div(Tensor.of(sd).indexSelect(0, idx));
            double within = dist.le(3.0).to(dev.diffinstruct.torch.DType.FLOAT64).mean().item();
            return new ModeCoverage(w, teacher.weights().clone(), covered, maxErr, within);
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (double v : weights) b.append(String.format("%.3f ", v));
        return "modes covered " + modesCovered + "/" + weights.length + ", weights [" + b.toString().strip()
                + "], max |w - w_true| " + String.format("%.4f", maxWeightError) + ", within 3 std " + String.format("%.3f", within3Std);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModeCoverage m && Arrays.equals(weights, m.weights) && Arrays.equals(trueWeights, m.trueWeights)
                && modesCovered == m.modesCovered && maxWeightError == m.maxWeightError && within3Std == m.within3Std;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(weights) * 31 + modesCovered;
    }
}
