package dev.diffinstruct.trainer.teacher;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.Teachers;

import java.nio.file.Path;
import java.util.Arrays;

/** What teacher training reads, loaded and checked: the dataset and the model, and whether they fit together. */
final class TeacherInputs {
    private TeacherInputs() {}

    static ImageDataset loadData(TeacherConfig cfg, Device device) {
        ImageDataset d = ImageDataset.load(cfg.data);
        try {
            if (d.size() < cfg.batch)
                throw new InvalidInputException("--batch " + cfg.batch + " is larger than --data " + cfg.data + " (" + d.size() + " images)");
            if (cfg.classes > 0) {
                if (!d.hasLabels())
                    throw new InvalidInputException("--classes " + cfg.classes + " needs labelled data, but --data " + cfg.data
                            + " has no labels (a PNG folder is labelled by its sub-folders)");
                if (d.numClasses() != cfg.classes)
                    throw new InvalidInputException("--classes " + cfg.classes + " but --data " + cfg.data + " has " + d.numClasses() + " classes");
            }
            if (device.equals(Device.CPU)) return d;
            try (d) {
                return d.to(device);
            }
        } catch (RuntimeException e) {
            if (!d.images().isClosed()) d.close();
            throw e;
        }
    }

    static ScriptModule loadModel(String file, Device device) {
        try {
            return ScriptModule.load(Path.of(file), device);
        } catch (ModelFileException e) {
            throw new InvalidInputException("--model " + e.getMessage().replaceFirst("^Module.load: ", ""), e);
        }
    }

    /**
     * Runs the model once on two training images at sigma 0.5 and 2 (with labels when
     * conditional): it must take them, return their shape, finite, and have parameters to train.
     */
    static void check(ScriptModule model, TeacherConfig cfg, ImageDataset data) {
        String name = "--model " + cfg.model;
        String schema = model.methods().stream().filter(m -> m.startsWith("forward(")).findFirst().orElse(null);
        if (schema == null) throw new InvalidInputException(name + " has no forward method");
        int args = Denoiser.forwardArgs(model);
        int want = cfg.classes > 0 ? 3 : 2;
        String expected = cfg.classes > 0 ? "a class-conditional denoiser takes (x, sigma, class_labels)" : "a denoiser takes (x, sigma)";
        if (args < want)
            throw new InvalidInputException(name + ": its forward takes " + args + " argument" + (args == 1 ? "" : "s") + " but " + expected
                    + (args == 2 ? " (an unconditional model: leave out --classes)" : "") + "; " + schema);
        String hint = args > want ? " (its forward takes " + args + " arguments, " + expected
                + (want == 2 && args == 3 ? "; a class-conditional model? pass --classes K" : "") + ")" : "";
        try (Scope s = Scope.open(); var ng = Torch.noGrad()) {
            Tensor x = data.images().slice(0, 2);
            Tensor sigma = Tensor.of(new float[] {0.5f, 2f}).to(x.device());
            Tensor y;
            try {
                Tensor labels = cfg.classes > 0 ? data.labels().slice(0, 2).oneHot(cfg.classes).to(DType.FLOAT32) : null;
                y = Denoiser.forward(model, x, sigma, labels);
            } catch (TorchException e) {
                throw new InvalidInputException(name + " cannot denoise images of shape " + Arrays.toString(data.imageShape())
                        + " from --data " + cfg.data + (cfg.classes > 0 ? " with " + cfg.classes + " classes" : "") + hint + ": " + Teachers.reason(e), e);
            }
            if (!Arrays.equals(y.shape(), x.shape()))
                throw new InvalidInputException(name + " returns shape " + Arrays.toString(y.shape()) + " for images " + Arrays.toString(x.shape())
                        + "; a denoiser D(x, sigma) returns x's shape");
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on training images");
        }
        if (model.parameterCount() == 0) throw new InvalidInputException(name + " has no parameters to train");
    }
}
