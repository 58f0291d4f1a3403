package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.trainer.InvalidInputException;

/**
 * Turns a teacher as loaded from its file into the trainer's view of every teacher: an
 * EDM-convention TorchScript denoiser {@code forward(x[N, ...], sigma[N]) -> D(x, sigma)}.
 * The result is owned by the caller; it may be {@code raw} itself, or a new module that holds
 * {@code raw} as a submodule (then the caller may close its handle to {@code raw}).
 */
@FunctionalInterface
public interface TeacherAdapter {
    ScriptModule toEdm(ScriptModule raw);

    /** The teacher already is an EDM denoiser. */
    TeacherAdapter EDM = raw -> raw;

    /** The adapter for a {@code --teacher-kind}. */
    static TeacherAdapter forKind(String kind) {
        if ("edm".equals(kind)) return EDM;
        throw new InvalidInputException("--teacher-kind '" + kind + "' is not supported by distill yet (supported: edm)");
    }
}
