package dev.diffinstruct.trainer.models;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

import java.util.Arrays;

/**
 * Networks built in Java as TorchScript modules (so they train, save and load in Python like any
 * other): a small MLP generator, an EDM-preconditioned MLP denoiser for the fake score, and the
 * one-step generator made from a teacher.
 *
 * <p>Linear layers are {@code x.matmul(w.t()) + b}, initialised like PyTorch's {@code nn.Linear}
 * (weights and biases uniform in +-1/sqrt(fan_in)) from the given seeded generator.
 */
public final class BuiltinModels {
    private BuiltinModels() {}

    /** Frequencies of the sin/cos features of EDM's c_noise fed to the MLP denoiser. */
    private static final float[] NOISE_FREQS = {1f, 2f, 4f, 8f, 16f, 32f};

    /**
     * An MLP generator {@code forward(z[N, *latent_shape]) -> x[N, *data_shape]}: {@code layers}
     * hidden layers of width {@code hidden} with SiLU. Attributes {@code latent_shape} and
     * {@code data_shape}.
     */
    public static ScriptModule mlpGenerator(long[] latentShape, long[] dataShape, int hidden, int layers, Generator init) {
        return mlpGenerator(latentShape, dataShape, hidden, layers, 0, init);
    }

    /**
     * As {@link #mlpGenerator(long[], long[], int, int, Generator)}; for {@code classes > 0} it is
     * class-conditional, {@code forward(z, class_labels[N, classes] one-hot) -> x}, the labels
     * concatenated to the flattened latent; attribute {@code num_classes}.
     */
    public static ScriptModule mlpGenerator(long[] latentShape, long[] dataShape, int hidden, int layers, int classes, Generator init) {
        checkShape("latent shape", latentShape);
        checkShape("data shape", dataShape);
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
        ScriptModule m = ScriptModule.create(classes > 0 ? "ConditionalMlpGenerator" : "MlpGenerator");
        try {
            int in = (int) numel(latentShape) + classes;
            String body = linearStack(m, in, hidden, layers, (int) numel(dataShape), init, "h");
            m.setAttribute("latent_shape", latentShape);
            m.setAttribute("data_shape", dataShape);
            if (classes > 0) {
                m.setAttribute("num_classes", (long) classes);
                m.define("""
                        def forward(self, z: Tensor, class_labels: Tensor) -> Tensor:
                            n = z.size(0)
                            h = torch.cat([z.reshape(n, -1), class_labels.to(z.dtype).reshape(n, -1)], 1)
                        %s    return h.reshape([n] + self.data_shape)
                        """.formatted(body));
                return m.requiresGrad(true);
            }
            m.define("""
                    def forward(self, z: Tensor) -> Tensor:
                        n = z.size(0)
                        h = z.reshape(n, -1)
                    %s    return h.reshape([n] + self.data_shape)
                    """.formatted(body));
            return m.requiresGrad(true);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * An EDM-preconditioned MLP denoiser {@code forward(x[N, *data_shape], sigma[N]) -> D(x, sigma)}:
     * {@code D = c_skip x + c_out F([c_in x, c_noise, sin/cos(k c_noise)])} with EDM's c_skip,
     * c_out, c_in and c_noise = ln(sigma)/4 for {@code sigma_data}.
     */
    public static ScriptModule edmMlpDenoiser(long[] dataShape, int hidden, int layers, double sigmaData, Generator init) {
        return edmMlpDenoiser(dataShape, hidden, layers, sigmaData, 0, init);
    }

    /**
     * As {@link #edmMlpDenoiser(long[], int, int, double, Generator)}; for {@code classes > 0} it
     * is class-conditional, {@code forward(x, sigma, class_labels[N, classes] one-hot)}, the labels
     * concatenated to F's input; attribute {@code num_classes}.
     */
    public static ScriptModule edmMlpDenoiser(long[] dataShape, int hidden, int layers, double sigmaData, int classes, Generator init) {
        checkShape("data shape", dataShape);
        if (!(sigmaData > 0)) throw new IllegalArgumentException("sigma_data must be > 0, got " + sigmaData);
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
        ScriptModule m = ScriptModule.create(classes > 0 ? "ConditionalEdmMlpDenoiser" : "EdmMlpDenoiser");
        try (Scope s = Scope.open()) {
            int d = (int) numel(dataShape);
            String body = linearStack(m, d + 1 + 2 * NOISE_FREQS.length + classes, hidden, layers, d, init, "h");
            m.registerBuffer("noise_freqs", Tensor.of(NOISE_FREQS));
            m.setAttribute("sigma_data", sigmaData);
            m.setAttribute("data_shape", dataShape);
            if (classes > 0) m.setAttribute("num_classes", (long) classes);
            String labelsParam = classes > 0 ? ", class_labels: Tensor" : "";
            String labelsFeature = classes > 0 ? ", class_labels.to(xf.dtype).reshape(n, -1)" : "";
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor%s) -> Tensor:
                        n = x.size(0)
                        xf = x.reshape(n, -1)
                        s = sigma.to(xf.dtype).reshape(-1, 1)
                        sd = self.sigma_data
                        c_skip = sd * sd / (s * s + sd * sd)
                        c_out = s * sd / torch.sqrt(s * s + sd * sd)
                        c_in = 1.0 / torch.sqrt(s * s + sd * sd)
                        c_noise = torch.log(s) / 4.0
                        e = c_noise * self.noise_freqs.reshape(1, -1)
                        h = torch.cat([c_in * xf, c_noise.expand(n, 1), torch.sin(e).expand(n, -1), torch.cos(e).expand(n, -1)%s], 1)
                    %s    return (c_skip * xf + c_out * h).reshape(x.shape)
                    """.formatted(labelsParam, labelsFeature, body));
            return m.requiresGrad(true);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The one-step generator made from a denoiser (the teacher's EDM view, or a copy of it):
     * {@code forward(z) = denoiser(z * init_sigma, init_sigma)}, i.e. one denoising step from pure
     * noise at {@code init_sigma}. The denoiser is a trainable copy; the argument is left as is.
     */
    public static ScriptModule denoiserGenerator(ScriptModule denoiser, double initSigma, long[] dataShape) {
        return denoiserGenerator(denoiser, initSigma, dataShape, 0);
    }

    /**
     * As {@link #denoiserGenerator(ScriptModule, double, long[])}; for {@code classes > 0} from a
     * class-conditional denoiser: {@code forward(z, class_labels) = denoiser(z * init_sigma,
     * init_sigma, class_labels)}, with attribute {@code num_classes}.
     */
    public static ScriptModule denoiserGenerator(ScriptModule denoiser, double initSigma, long[] dataShape, int classes) {
        checkShape("data shape", dataShape);
        if (!(initSigma > 0)) throw new IllegalArgumentException("init sigma must be > 0, got " + initSigma);
        if (classes < 0) throw new IllegalArgumentException("classes must be >= 0, got " + classes);
        ScriptModule copy = denoiser.trainableCopy();
        ScriptModule m = ScriptModule.create(classes > 0 ? "ConditionalOneStepGenerator" : "OneStepGenerator");
        try {
            m.registerModule("denoiser", copy);
            m.setAttribute("init_sigma", initSigma);
            m.setAttribute("latent_shape", dataShape);
            m.setAttribute("data_shape", dataShape);
            if (classes > 0) {
                m.setAttribute("num_classes", (long) classes);
                m.define("""
                        def forward(self, z: Tensor, class_labels: Tensor) -> Tensor:
                            s = torch.full([z.size(0)], self.init_sigma, dtype=z.dtype, device=z.device)
                            return self.denoiser.forward(z * self.init_sigma, s, class_labels)
                        """);
                return m;
            }
            m.define("""
                    def forward(self, z: Tensor) -> Tensor:
                        s = torch.full([z.size(0)], self.init_sigma, dtype=z.dtype, device=z.device)
                        return self.denoiser.forward(z * self.init_sigma, s)
                    """);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        } finally {
            copy.close(); // the parent holds its own reference to the submodule
        }
    }

    /**
     * Registers the parameters of {@code layers} hidden SiLU layers and an output layer, and
     * returns the TorchScript lines that map variable {@code v} through them (8-space indented
     * after the first column of the method body).
     */
    private static String linearStack(ScriptModule m, int in, int hidden, int layers, int out, Generator init, String v) {
        if (hidden < 1 || layers < 0) throw new IllegalArgumentException("need hidden >= 1 and layers >= 0, got " + hidden + ", " + layers);
        StringBuilder src = new StringBuilder();
        int fanIn = in;
        for (int i = 0; i <= layers; i++) {
            int fanOut = i == layers ? out : hidden;
            registerLinear(m, "l" + i, fanIn, fanOut, init);
            String lin = v + ".matmul(self.l" + i + "_w.t()) + self.l" + i + "_b";
            src.append("    ").append(v).append(" = ").append(i == layers ? lin : "torch.silu(" + lin + ")").append('\n');
            fanIn = fanOut;
        }
        return src.toString();
    }

    /** nn.Linear's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias. */
    private static void registerLinear(ScriptModule m, String name, int in, int out, Generator g) {
        double bound = 1 / Math.sqrt(in);
        try (Scope s = Scope.open()) {
            m.registerParameter(name + "_w", Tensor.rand(g, out, in).mul(2 * bound).sub(bound));
            m.registerParameter(name + "_b", Tensor.rand(g, out).mul(2 * bound).sub(bound));
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    private static void checkShape(String what, long[] shape) {
        if (shape == null || shape.length == 0) throw new IllegalArgumentException(what + " is empty");
        for (long d : shape) if (d < 1) throw new IllegalArgumentException(what + " must be positive, got " + Arrays.toString(shape));
    }
}
