package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.Teachers;

import java.util.Locale;

/**
 * A generator the user brings (refine --generator, e.g. a GAN's), as a run takes it:
 * <ul>
 *   <li>{@link #affine}: {@code --gen-scale S --gen-shift B} put {@code x = S g(z) + B} around it, for a
 *       generator whose output range is not the teacher's (S 2, B -1 for one in [0, 1]). The map is
 *       part of the refined file; its submodule {@code net} is the generator in its own range.</li>
 *   <li>{@link #checkRange}: image teachers take data in [-1, 1] (EDM's convention, and every
 *       teacher this tool trains); a generator whose samples are clearly elsewhere is refused before
 *       training, with the options that fix it.</li>
 *   <li>{@link #trains}: its mode during training. A generator with batch norm runs in eval mode by
 *       default (--gen-mode auto): its running statistics stay frozen and batch norm is the affine
 *       map the GAN ships with, whose weights train; so the function trained is the function saved,
 *       and the weight average has no stale statistics. --gen-mode train uses batch statistics
 *       instead, the running ones updated by momentum (and copied into the average).</li>
 * </ul>
 */
public final class UserGenerator {
    private UserGenerator() {}

    /** {@code scale * g(z) + shift} around {@code g}, which it shares; latent_shape and num_classes come along. */
    public static ScriptModule affine(ScriptModule g, double scale, double shift, int classes) {
        ScriptModule m = ScriptModule.create("GeneratorAffine");
        boolean ok = false;
        try {
            m.registerModule("net", g);
            m.setAttribute("scale", scale);
            m.setAttribute("shift", shift);
            for (String a : new String[] {"latent_shape", "data_shape"})
                if (g.hasAttribute(a)) m.setAttribute(a, g.getIntList(a));
            if (g.hasAttribute("num_classes")) m.setAttribute("num_classes", (long) g.getDouble("num_classes"));
            m.define(classes > 0 ? """
                    def forward(self, z: Tensor, class_labels: Tensor) -> Tensor:
                        return self.net.forward(z, class_labels) * self.scale + self.shift
                    """ : """
                    def forward(self, z: Tensor) -> Tensor:
                        return self.net.forward(z) * self.scale + self.shift
                    """);
            ok = true;
            return m;
        } finally {
            if (!ok) m.close();
        }
    }

    /**
     * For image-shaped data ([C, H, W]): 256 samples of {@code g} (eval mode, no gradients) must reach
     * below -0.1 and stay within [-1.5, 1.5]; else one line with the range seen and the fix.
     */
    public static void checkRange(ScriptModule g, String name, int classes, long[] latentShape, long[] dataShape, Device device) {
        if (dataShape.length != 3) return;
        boolean training = g.isTraining();
        g.train(false);
        double lo, hi;
        try (Scope s = Scope.open(); Torch.GradMode ng = Torch.noGrad(); Generator rng = new Generator(0, device)) {
            Tensor z = Tensor.randn(rng, DType.FLOAT32, device, Shapes.prepend(256, latentShape));
            long[] labels = new long[256];
            for (int i = 0; i < labels.length; i++) labels[i] = classes > 0 ? i % classes : 0;
            Tensor x = new GeneratorNet(g, classes).forward(z, classes > 0 ? Teachers.oneHot(labels, classes, device) : null);
            if (!x.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on 256 random latents");
            lo = x.min().item();
            hi = x.max().item();
        } finally {
            g.train(training);
        }
        String seen = String.format(Locale.ROOT, "%s outputs values in [%.3g, %.3g] on 256 random latents, but an image teacher takes data in [-1, 1]", name, lo, hi);
        String fix = " (--gen-scale S --gen-shift B train S g(z) + B: 2 and -1 for a generator in [0, 1], 0.00784 and -1 for one in [0, 255]; "
                + "--no-range-check if your teacher's data really are in another range)";
        if (lo >= -0.1 && hi > 0.5) throw new InvalidInputException(seen + ": it looks like a generator in [0, " + (hi > 2 ? "255" : "1") + "]" + fix);
        if (lo < -1.5 || hi > 1.5) throw new InvalidInputException(seen + fix);
    }

    /** Whether the generator trains in train mode: --gen-mode train/eval, or auto (eval when it has batch-norm statistics). */
    public static boolean trains(String mode, ScriptModule g) {
        return switch (mode) {
            case "train" -> true;
            case "eval" -> false;
            default -> !hasBatchNorm(g);
        };
    }

    /** Batch norm leaves running_mean buffers; nothing else in common networks does. */
    public static boolean hasBatchNorm(ScriptModule g) {
        try (Scope s = Scope.open()) {
            return g.namedBuffers().keySet().stream().anyMatch(n -> n.endsWith("running_mean"));
        }
    }
}
