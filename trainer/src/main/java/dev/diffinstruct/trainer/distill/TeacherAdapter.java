package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Teachers;

/**
 * Turns a teacher as loaded from its file into the trainer's view of every teacher: an
 * EDM-convention TorchScript denoiser {@code forward(x[N, ...], sigma[N]) -> D(x, sigma)}, or
 * {@code forward(x, sigma, class_labels[N, C])} for a class-conditional teacher.
 * The result is owned by the caller; it may be {@code raw} itself, or a new module that holds
 * {@code raw} as a submodule (then the caller may close its handle to {@code raw}).
 */
@FunctionalInterface
public interface TeacherAdapter {
    ScriptModule toEdm(ScriptModule raw);

    /** The teacher already is an unconditional EDM denoiser. */
    TeacherAdapter EDM = raw -> raw;

    /**
     * The adapter for a teacher of {@code spec}: {@link Teachers#asDenoiser} (the file as is for
     * an unconditional EDM teacher; a conditional one is wrapped too, which checks at once that
     * its forward takes class_labels and gives the view a {@code num_classes} attribute).
     */
    static TeacherAdapter of(TeacherSpec spec) {
        return spec.kind() == TeacherKind.EDM && !spec.conditional() ? EDM : raw -> Teachers.asDenoiser(raw, spec);
    }

    /** The adapter for a {@code --teacher-kind} with the default schedule constants of its kind, unconditional. */
    static TeacherAdapter forKind(String kind) {
        TeacherKind k;
        try {
            k = TeacherKind.parse(kind);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--teacher-kind: " + e.getMessage(), e);
        }
        return of(TeacherSpec.of(k));
    }

    /**
     * The adapter for a run's configuration: {@code --teacher-kind} with its schedule flags
     * ({@code --beta-min}, {@code --beta-max}, {@code --time-scale}, {@code --schedule},
     * {@code --ddpm-steps}) and {@code --classes}. {@code TeacherAdapter::forKind} passed to
     * {@link DiffInstruct#open} resolves to this.
     */
    static TeacherAdapter forKind(DistillConfig cfg) {
        return of(cfg.teacherSpec());
    }
}
