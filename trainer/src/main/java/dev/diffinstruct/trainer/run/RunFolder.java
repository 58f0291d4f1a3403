package dev.diffinstruct.trainer.run;

import dev.diffinstruct.torch.AtomicFiles;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.IoErrors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The output folder of a training run ({@code --out}), as distill and train-teacher share it:
 * {@code checkpoints/}, {@code config.json} and {@code metrics.jsonl} beside the run's outputs.
 */
public final class RunFolder {
    private RunFolder() {}

    /** Creates the output folder and checks that files can be written there. */
    public static Path prepare(String dir) {
        Path out = Path.of(dir);
        try {
            Files.createDirectories(out);
            Path probe = Files.createTempFile(out, ".write-test", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new InvalidInputException("--out " + dir + " is not a writable folder (" + IoErrors.describe(e) + ")", e);
        } catch (SecurityException e) {
            throw new InvalidInputException("--out " + dir + " is not a writable folder (not permitted: " + e.getMessage() + ")", e);
        }
        return out;
    }

    /**
     * After a command failed before it wrote anything: removes {@code out} if the command created
     * it ({@code existedBefore} false) and it is still empty, so a failed start leaves nothing behind.
     */
    public static void removeIfLeftEmpty(Path out, boolean existedBefore) {
        if (existedBefore) return;
        try (var entries = Files.list(out)) {
            if (entries.findAny().isEmpty()) Files.delete(out);
        } catch (IOException | UncheckedIOException e) {
            // not there, not empty or not ours to remove: leave it
        }
    }

    /** The run's checkpoints, in {@code out/checkpoints}. */
    public static CheckpointStore checkpoints(Path out) {
        return new CheckpointStore(out.resolve("checkpoints"));
    }

    /** Refuses to start a fresh run in {@code out} (given as {@code --out dir}) when it already holds a run's checkpoints. */
    public static void requireNoRun(Path out, String dir) {
        if (!checkpoints(out).list().isEmpty())
            throw new InvalidInputException("--out " + dir + " already holds a run (checkpoints/): pass --resume to continue it, or choose another --out");
    }

    /** Writes {@code out/config.json} atomically. */
    public static void writeConfig(Path out, String json) {
        try {
            AtomicFiles.writeString(out.resolve("config.json"), json);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out.resolve("config.json") + ": " + e.getMessage(), e);
        }
    }

    /**
     * Tells {@code listener} which requested options of a resumed run lose to the checkpoint's:
     * those among {@code differences} that the run does not take from the request
     * ({@code changeable}) and that the user gave ({@code given}; null: unknown, so all of them).
     * An option left at its default is no request, so it is not reported.
     */
    public static void reportKeptOptions(List<String> differences, Set<String> changeable, Set<String> given,
                                         java.util.function.Function<String, String[]> values, Consumer<String> listener) {
        for (String k : differences)
            if (!changeable.contains(k) && (given == null || given.contains(k))) {
                String[] v = values.apply(k); // {the checkpoint's, the request's}
                listener.accept("resuming: " + optionName(k) + ": checkpoint " + v[0] + ", given " + v[1] + "; keeping " + v[0]
                        + " (a resumed run keeps the checkpoint's options but --steps, the intervals and the non-finite policy)");
            }
    }

    /** A config field's option: lrG -> --lr-g. */
    static String optionName(String field) {
        return "--" + field.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
    }

    /** A checkpoint part as UTF-8 text. */
    public static String text(byte[] part) {
        return new String(part, StandardCharsets.UTF_8);
    }
}
