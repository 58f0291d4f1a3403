package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Teachers;

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

    /** The adapter for a teacher of {@code spec} (unconditional): {@link Teachers#asDenoiser}. */
    static TeacherAdapter of(TeacherSpec spec) {
        if (spec.conditional()) throw new InvalidInputException("class-conditional teachers are not supported by distill yet");
        return spec.kind() == TeacherKind.EDM ? EDM : raw -> Teachers.asDenoiser(raw, spec);
    }

    /** The adapter for a {@code --teacher-kind} with the default schedule constants of its kind. */
    static TeacherAdapter forKind(String kind) {
        TeacherKind k;
        try {
            k = TeacherKind.parse(kind);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--teacher-kind: " + e.getMessage(), e);
        }
        return of(TeacherSpec.of(k));
    }
}
