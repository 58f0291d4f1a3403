package dev.diffinstruct.trainer.run;

import dev.diffinstruct.trainer.InvalidInputException;

import java.nio.file.Path;

/** Whether a run continues from its checkpoints: {@code --resume} (there must be one) or {@code --resume=auto}. */
public enum Resume {
    /** A fresh run; an --out that already holds a run's checkpoints is refused. */
    NO,
    /** Continue from the newest readable checkpoint; none is an error (a mistyped --out must not train something else). */
    YES,
    /** Continue if there is a readable checkpoint, else start fresh (for job schedulers that rerun one command). */
    IF_ANY;

    /** {@code --resume} as given: absent, bare ({@code on}), or {@code auto}. */
    public static Resume of(String option) {
        if (option == null) return NO;
        return switch (option.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "", "on", "yes", "true" -> YES;
            case "auto" -> IF_ANY;
            default -> throw new InvalidInputException("--resume takes no value, or =auto (resume if there is a checkpoint, else start fresh); got '"
                    + option + "'");
        };
    }

    /** Before anything is created: a YES resume of an --out without checkpoints is refused in one line. */
    public void requireCheckpointsIn(String out) {
        if (this == YES && RunFolder.checkpoints(Path.of(out)).list().isEmpty())
            throw new InvalidInputException("--resume: no checkpoint in " + Path.of(out).resolve("checkpoints")
                    + " to continue from (check --out; --resume=auto starts a fresh run when there is none)");
    }

    /** After the checkpoints were read: none readable is an error for YES (the warnings said why), a fresh start for IF_ANY. */
    public void noReadableCheckpoint(String out, java.util.function.Consumer<String> report) {
        if (this == YES)
            throw new InvalidInputException("--resume: no readable checkpoint in " + Path.of(out).resolve("checkpoints")
                    + " (--resume=auto would start a fresh run)");
        report.accept("no checkpoint in " + Path.of(out).resolve("checkpoints") + ": starting a fresh run");
    }
}
