package dev.diffinstruct.trainer.distill;

import java.nio.file.Path;

/** What the training loop reports as it goes (called on the training thread). */
public interface TrainingListener {
    /** After each logged step (every --log-every steps, the first and the last). */
    default void onStep(StepMetrics m) {}

    /** After every step, cheaply (no metrics): for progress displays. */
    default void onProgress(long step) {}

    /** After a checkpoint has been written (atomically) to {@code file}. */
    default void onCheckpoint(long step, Path file) {}

    /** A notice worth a line of output: a skipped non-finite step, a resumed run, a changed option. */
    default void onMessage(String line) {}

    TrainingListener NONE = new TrainingListener() {};
}
