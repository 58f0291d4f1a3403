package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;

import java.util.Arrays;

/**
 * A one-step generator {@code g(z)} as the trainers call it: {@code forward(z[N, *latent])}, or
 * {@code forward(z, class_labels[N, C])} (one-hot) when it knows {@code classes > 0} classes.
 * It owns the module.
 */
public final class GeneratorNet extends LabelledNet {
    public GeneratorNet(ScriptModule module, int classes) {
        super(module, classes);
    }

    /** g(z[, labels]); {@code labels} (one-hot [N, C]) must be given exactly when the generator is conditional. */
    public Tensor forward(Tensor z, Tensor labels) {
        return run(labels, z);
    }

    /**
     * Runs a generator module of {@code classes} classes on two dummy latents of {@code latentShape}
     * (classes 0 and 1): it must run and return a finite batch of two; returns the output's shape,
     * else one line naming {@code name}. Static: callers check a module before anything owns it.
     */
    public static long[] check(ScriptModule module, int classes, String name, Device device, long[] latentShape) {
        try (Scope s = Scope.open()) {
            long[] shape = Shapes.prepend(2, latentShape);
            String call = classes > 0 ? "forward(z, class_labels)" : "forward(z)";
            Tensor y;
            try {
                Tensor z = Tensor.randn(null, DType.FLOAT32, device, shape);
                y = Denoiser.call(module, classes, Denoiser.dummyLabels(classes, device), z);
            } catch (TorchException e) {
                throw new InvalidInputException(name + ": " + call + " fails on a dummy batch z" + Arrays.toString(shape)
                        + (classes > 0 ? ", class_labels[2, " + classes + "]" : "") + Denoiser.signatureHint(module, 1, classes)
                        + ": " + e.summary(), e);
            }
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on a dummy batch z" + Arrays.toString(shape));
            if (y.dim() < 2 || y.size(0) != 2)
                throw new InvalidInputException(name + ": " + call + " returns shape " + Arrays.toString(y.shape()) + " for z" + Arrays.toString(shape));
            return y.shape();
        }
    }
}
