package dev.diffinstruct.trainer.run;

import com.google.gson.Gson;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.AtomicFiles;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** {@code metrics.jsonl}: one JSON object per logged step, appended and flushed as it comes. */
public final class MetricsLog implements AutoCloseable {
    private static final Gson GSON = new Gson();
    private final BufferedWriter w;

    private MetricsLog(BufferedWriter w) {
        this.w = w;
    }

    /**
     * Opens the log for appending, first dropping lines of steps after {@code keepUpToStep} (a
     * resumed run repeats those steps and logs them again).
     */
    public static MetricsLog open(Path file, long keepUpToStep) {
        try {
            if (Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                boolean dropped = false;
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    long step;
                    try {
                        step = JsonParser.parseString(line).getAsJsonObject().get("step").getAsLong();
                    } catch (RuntimeException e) {
                        dropped = true; // a line torn by a crash
                        continue;
                    }
                    if (step <= keepUpToStep) kept.add(line);
                    else dropped = true;
                }
                if (dropped) {
                    AtomicFiles.write(file, tmp -> Files.write(tmp, kept, StandardCharsets.UTF_8));
                }
            }
            return new MetricsLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    /** Appends one line (the map must hold a numeric "step") and flushes it. */
    public void write(java.util.Map<String, ?> line) {
        try {
            w.write(GSON.toJson(line));
            w.newLine();
            w.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            w.close();
        } catch (IOException ignored) {
            // nothing left to lose: every line was flushed
        }
    }
}
