package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;

import java.util.Arrays;

/**
 * An EDM denoiser {@code D(x, sigma)} as every trainer and sampler calls it: a TorchScript module
 * with {@code forward(x[N, ...], sigma[N])}, or {@code forward(x, sigma, class_labels[N, C])}
 * (one-hot) when it knows {@code classes > 0} classes. The one place that decides how a denoiser
 * is called with or without labels, probes it on a dummy batch and reads its forward's arity.
 * It owns the module.
 */
public final class Denoiser extends LabelledNet {
    public Denoiser(ScriptModule module, int classes) {
        super(module, classes);
    }

    /** D(x, sigma[, labels]); {@code labels} (one-hot [N, C]) must be given exactly when the denoiser is conditional. */
    public Tensor forward(Tensor x, Tensor sigma, Tensor labels) {
        return run(labels, x, sigma);
    }

    /** D(x, sigma[, labels]) of a module that is conditional exactly when {@code labels} is given (samplers). */
    public static Tensor forward(ScriptModule m, Tensor x, Tensor sigma, Tensor labels) {
        return call(m, labels == null ? 0 : (int) labels.size(1), labels, x, sigma);
    }

    /** {@code m.forward(inputs..., labels)}, or without labels when unconditional: the one with/without-labels switch. */
    static Tensor call(ScriptModule m, int classes, Tensor labels, Tensor... inputs) {
        if ((labels != null) != (classes > 0))
            throw new IllegalArgumentException(classes > 0 ? "a " + classes + "-class network needs class labels" : "an unconditional network takes no labels");
        if (labels == null) return m.forward((Object[]) inputs);
        Object[] args = Arrays.copyOf(inputs, inputs.length + 1, Object[].class);
        args[inputs.length] = labels;
        return m.forward(args);
    }

    /**
     * Checks a denoiser module of {@code classes} classes on a dummy batch of two samples of
     * {@code dataShape} at sigma 0.5 and 2 (classes 0 and 1): it must run, return x's shape and
     * finite values; else one line, naming {@code name} and, when not null, what it does not
     * {@code fit} (e.g. "--teacher-kind edm and data shape 2"), with a hint when its forward's
     * arity says --classes is wrong. Static: callers check a module before anything owns it.
     */
    public static void check(ScriptModule module, int classes, String name, String fit, Device device, long[] dataShape) {
        for (long d : dataShape)
            if (d <= 0) throw new InvalidInputException("data shape " + Arrays.toString(dataShape) + " must have positive sizes");
        String prefix = name + (fit == null ? "" : " does not fit " + fit) + ": ";
        long[] shape = Shapes.prepend(2, dataShape);
        String call = classes > 0 ? "forward(x, sigma, class_labels)" : "forward(x, sigma)";
        try (Scope s = Scope.open(); Generator g = new Generator(0, device)) {
            Tensor x = Tensor.randn(g, DType.FLOAT32, device, shape).mul(0.5);
            Tensor sigma = Tensor.of(new float[] {0.5f, 2.0f}).to(device);
            Tensor y;
            try {
                y = call(module, classes, dummyLabels(classes, device), x, sigma);
            } catch (TorchException e) {
                throw new InvalidInputException(prefix + call + " fails on a dummy batch x" + Arrays.toString(shape) + ", sigma[2]"
                        + (classes > 0 ? ", class_labels[2, " + classes + "]" : "") + signatureHint(module, 2, classes) + ": " + Teachers.reason(e), e);
            }
            if (!Arrays.equals(y.shape(), shape))
                throw new InvalidInputException(prefix + call + " returns shape " + Arrays.toString(y.shape())
                        + " for x" + Arrays.toString(shape) + " (a denoiser returns x's shape)");
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on a dummy batch x" + Arrays.toString(shape));
        }
    }

    /** One-hot labels [2, classes] of classes 0 and 1 (or 0 twice) for the dummy forwards; null when unconditional. */
    static Tensor dummyLabels(int classes, Device device) {
        return classes == 0 ? null : Teachers.oneHot(new long[] {0, Math.min(1, classes - 1)}, classes, device);
    }

    /** Number of arguments of the module's forward (without self), or -1 if unknown: the one arity reader. */
    public static int forwardArgs(ScriptModule m) {
        try {
            for (String sig : m.methods())
                if (sig.startsWith("forward(")) return sig.substring(0, sig.indexOf(')') + 1).split(",").length - 1; // minus self
        } catch (TorchException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Why a forward call may have failed: its argument count against the {@code inputs} data
     * arguments (z; or x, sigma) plus class_labels when {@code classes > 0}, with a hint about --classes.
     */
    static String signatureHint(ScriptModule m, int inputs, int classes) {
        int args = forwardArgs(m);
        int expected = inputs + (classes > 0 ? 1 : 0);
        if (args < 0 || args == expected) return "";
        String want = inputs == 1 ? (classes > 0 ? "(z, class_labels)" : "(z)") : (classes > 0 ? "(x, sigma, class_labels)" : "(x, sigma)");
        String hint = "";
        if (classes == 0 && args == inputs + 1) hint = "; it looks class-conditional: give --classes C";
        if (classes > 0 && args == inputs) hint = "; it looks unconditional: drop --classes";
        return " (its forward takes " + args + " argument" + (args == 1 ? "" : "s") + ", "
                + (inputs == 1 ? "a generator" : "a teacher") + " here takes " + want + hint + ")";
    }
}
