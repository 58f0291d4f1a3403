package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;

/**
 * How often a classifier names the class a sample was drawn for. FID cannot see a
 * class-conditional generator that ignores its label (its samples can still match the data's
 * overall distribution); this can. The classifier is the feature network's {@code logits(x) -> [N, C]}.
 */
public final class LabelAccuracy {
    /** The method of a feature network that gives class logits. */
    public static final String LOGITS = "logits";

    private LabelAccuracy() {}

    /** Whether {@code net} can classify (has a {@code logits} method). */
    public static boolean canClassify(ScriptModule net) {
        return net.hasMethod(LOGITS);
    }

    /**
     * The share of {@code images} [N, ...] whose argmax logit is their label.
     *
     * @throws InvalidInputException if the counts differ or a label is outside the classifier's classes
     */
    public static double of(ScriptModule classifier, Tensor images, long[] labels, int batch, Device device) {
        if (labels.length != images.size(0))
            throw new InvalidInputException(labels.length + " labels for " + images.size(0) + " samples");
        try (Scope s = Scope.open()) {
            Tensor logits = Features.extract(classifier, LOGITS, images, batch, device);
            long classes = logits.size(1);
            for (long y : labels)
                if (y < 0 || y >= classes)
                    throw new InvalidInputException("label " + y + " is outside the classifier's " + classes + " classes");
            Tensor predicted = logits.argmax(1, false);
            return predicted.eq(Tensor.of(labels, labels.length)).to(DType.FLOAT64).mean().item();
        }
    }
}
