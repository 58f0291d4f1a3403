package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;

/**
 * The built-in teacher: an isotropic Gaussian mixture whose exact denoiser
 * {@code D(x, sigma) = E[x0 | x0 + sigma * eps = x]} is written in TorchScript, so it is a teacher
 * like any other (EDM convention, {@code forward(x[N, D], sigma[N])}) and can be saved for Python.
 */
public record MixtureTeacher(double[][] means, double[] stds, double[] weights) {

    public MixtureTeacher {
        int k = means.length;
        if (k == 0 || stds.length != k || weights.length != k)
            throw new IllegalArgumentException("means, stds and weights need one entry per component");
        double sum = 0;
        for (double w : weights) {
            if (!(w > 0)) throw new IllegalArgumentException("mixture weights must be > 0");
            sum += w;
        }
        if (Math.abs(sum - 1) > 1e-9) throw new IllegalArgumentException("mixture weights must sum to 1, got " + sum);
    }

    /** The name that selects the built-in 8-mode ring teacher ({@link #defaultRing()}) wherever a teacher file goes. */
    public static final String BUILTIN = "builtin:mixture";

    /** {@code modes} equal components evenly spaced on a circle of {@code radius}, each with std {@code std}. */
    public static MixtureTeacher ring(int modes, double radius, double std) {
        double[][] mu = new double[modes][2];
        double[] s = new double[modes];
        double[] w = new double[modes];
        for (int i = 0; i < modes; i++) {
            double a = 2 * Math.PI * i / modes;
            mu[i][0] = radius * Math.cos(a);
            mu[i][1] = radius * Math.sin(a);
            s[i] = std;
            w[i] = 1.0 / modes;
        }
        return new MixtureTeacher(mu, s, w);
    }

    /** The default of the demo: 8 modes on the unit circle, std 0.08. */
    public static MixtureTeacher defaultRing() {
        return ring(8, 1.0, 0.08);
    }

    public int dim() {
        return means[0].length;
    }

    public int components() {
        return means.length;
    }

    private Tensor meansTensor() {
        int k = means.length, d = dim();
        float[] flat = new float[k * d];
        for (int i = 0; i < k; i++) for (int j = 0; j < d; j++) flat[i * d + j] = (float) means[i][j];
        return Tensor.of(flat, k, d);
    }

    private static Tensor vec(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return Tensor.of(f, v.length);
    }

    /** The exact denoiser as an EDM-convention TorchScript module (caller closes it). */
    public ScriptModule toModule() {
        try (Scope s = Scope.open()) {
            ScriptModule m = ScriptModule.create("GaussianMixtureDenoiser");
            Tensor var = vec(stds).square();
            m.registerBuffer("means", meansTensor());
            m.registerBuffer("var", var);
            m.registerBuffer("log_weights", vec(weights).log());
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                        s2 = (sigma * sigma).reshape(-1, 1)
                        var = self.var.reshape(1, -1) + s2
                        diff = x.unsqueeze(1) - self.means.unsqueeze(0)
                        d2 = (diff * diff).sum(-1)
                        dim = float(x.size(1))
                        logits = self.log_weights.reshape(1, -1) - 0.5 * d2 / var - 0.5 * dim * torch.log(var)
                        r = torch.softmax(logits, dim=1)
                        post = (self.var.reshape(1, -1, 1) * x.unsqueeze(1) + s2.unsqueeze(-1) * self.means.unsqueeze(0)) / var.unsqueeze(-1)
                        return (r.unsqueeze(-1) * post).sum(1)
                    """);
            return m;
        }
    }

    /**
     * The exact denoiser of a class-conditional version of this mixture as an EDM-convention
     * TorchScript module {@code forward(x[N, D], sigma[N], class_labels[N, C] one-hot)} (caller
     * closes it): class c re-weights the components by {@code classWeights[c]} (a row of C x K
     * non-negative weights summing to 1; a 0 excludes a component from the class). The module has
     * attributes {@code num_classes} and {@code data_shape}.
     */
    public ScriptModule toConditionalModule(double[][] classWeights) {
        int k = components();
        if (classWeights.length == 0) throw new IllegalArgumentException("need at least one class");
        float[] flat = new float[classWeights.length * k];
        for (int c = 0; c < classWeights.length; c++) {
            if (classWeights[c].length != k) throw new IllegalArgumentException("class " + c + " needs " + k + " weights");
            double sum = 0;
            for (int i = 0; i < k; i++) {
                if (!(classWeights[c][i] >= 0)) throw new IllegalArgumentException("class weights must be >= 0");
                sum += classWeights[c][i];
                flat[c * k + i] = (float) classWeights[c][i];
            }
            if (Math.abs(sum - 1) > 1e-6) throw new IllegalArgumentException("the weights of class " + c + " must sum to 1, got " + sum);
        }
        try (Scope s = Scope.open()) {
            ScriptModule m = ScriptModule.create("ConditionalGaussianMixtureDenoiser");
            m.registerBuffer("means", meansTensor());
            m.registerBuffer("var", vec(stds).square());
            m.registerBuffer("class_weights", Tensor.of(flat, classWeights.length, k));
            m.setAttribute("num_classes", (long) classWeights.length);
            m.setAttribute("data_shape", new long[] {dim()});
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor, class_labels: Tensor) -> Tensor:
                        s2 = (sigma * sigma).reshape(-1, 1)
                        var = self.var.reshape(1, -1) + s2
                        diff = x.unsqueeze(1) - self.means.unsqueeze(0)
                        d2 = (diff * diff).sum(-1)
                        dim = float(x.size(1))
                        log_w = torch.log(torch.clamp(class_labels.to(x.dtype).matmul(self.class_weights), min=1e-30))
                        logits = log_w - 0.5 * d2 / var - 0.5 * dim * torch.log(var)
                        r = torch.softmax(logits, dim=1)
                        post = (self.var.reshape(1, -1, 1) * x.unsqueeze(1) + s2.unsqueeze(-1) * self.means.unsqueeze(0)) / var.unsqueeze(-1)
                        return (r.unsqueeze(-1) * post).sum(1)
                    """);
            return m;
        }
    }

    /** n exact samples of the mixture, [n, dim], float32 on the CPU. */
    public Tensor sample(Generator g, long n) {
        Tensor out;
        try (Scope s = Scope.open()) {
            double[] cum = new double[weights.length];
            double c = 0;
            for (int i = 0; i < weights.length; i++) {
                c += weights[i];
                cum[i] = c;
            }
            cum[cum.length - 1] = 2; // u < 1 always falls in the last bin at the latest
            Tensor u = Tensor.rand(g, DType.FLOAT64, Device.CPU, n, 1);
            Tensor idx = u.ge(Tensor.of(cum, 1, cum.length)).sum(new long[] {1}, false).to(DType.INT64);
            Tensor mu = meansTensor().indexSelect(0, idx);
            Tensor sd = vec(stds).indexSelect(0, idx).unsqueeze(1);
            Tensor noise = Tensor.randn(g, n, dim());
            out = s.keep(mu.add(noise.mul(sd)));
        }
        return out;
    }

    /** The component each row of x is closest to (in units of that component's std), as int64 [n]. */
    public Tensor nearestMode(Tensor x) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor d = x.cdist(meansTensor()).div(vec(stds).unsqueeze(0));
            out = s.keep(d.argmin(1, false));
        }
        return out;
    }
}
