package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Tensor;

/**
 * What the generator minimises, given a generated batch x = g(z) and the teacher's and the fake
 * score's denoisers at its diffused copy x_sigma: a surrogate loss whose gradient with respect to
 * the generator's parameters is the objective's ({@code --objective}).
 */
public interface GeneratorObjective {
    /** The --objective values. */
    enum Kind {
        /** Diff-Instruct's integral KL, weighted by --weighting ({@link IklLoss}). */
        IKL,
        /** Distribution Matching Distillation's normalised KL gradient ({@link DmdLoss}). */
        DMD,
        /** Score-identity Distillation ({@link SidLoss}). */
        SID
    }

    /**
     * The surrogate loss (a scalar). {@code x} is g(z) with its graph; {@code dTeacher} and
     * {@code dFake} are the denoisers at x_sigma, detached unless {@link #differentiatesDenoisers()}.
     */
    Tensor loss(Tensor x, Tensor dTeacher, Tensor dFake);

    /** Whether the denoisers must run with autograd on, on a non-detached x_sigma. */
    default boolean differentiatesDenoisers() {
        return false;
    }

    /** The objective a run's configuration asks for. */
    static GeneratorObjective of(DistillConfig cfg) {
        return switch (cfg.objective) {
            case IKL -> new IklLoss(cfg.weighting);
            case DMD -> new DmdLoss();
            case SID -> new SidLoss(cfg.sidAlpha);
        };
    }
}
