package dev.diffinstruct.trainer.run;

import java.nio.file.Path;

/** What a {@link TrainingLoop} reports as it goes (called on the training thread); {@code M}: the trainer's metrics. */
public interface TrainingListener<M> {
    /** After each logged step (every --log-every steps, the first and the last). */
    default void onStep(M m) {}

    /** After every step, with its loss where the trainer has it without a host sync (else NaN): for progress displays. */
    default void onProgress(long step, double loss) {}

    /** After a checkpoint (and the outputs that go with it) has been written, atomically, to {@code file}. */
    default void onCheckpoint(long step, Path file) {}

    /** A notice worth a line of output: a skipped non-finite step, a resumed run, a changed option. */
    default void onMessage(String line) {}

    /** A listener that ignores everything. */
    static <M> TrainingListener<M> none() {
        return new TrainingListener<>() {};
    }
}
