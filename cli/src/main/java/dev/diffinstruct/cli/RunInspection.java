package dev.diffinstruct.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.IoErrors;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * {@code inspect} on what the tool itself wrote: a checkpoint ({@code ckpt-*.zip}: its step,
 * state, configuration and parts) or a run folder ({@code --out}: its configuration, checkpoints,
 * outputs and last logged metrics). Read only.
 */
final class RunInspection {
    /** The configuration fields worth a first look; the whole config is one --config away (config.json). */
    private static final List<String> KEY_FIELDS = List.of("teacher", "teacherKind", "generator", "model", "data", "classes", "objective",
            "steps", "batch", "lrG", "lrF", "lr", "warmupFake", "sigmaSampler", "emaHalflife", "seed", "device");

    private RunInspection() {}

    /** A zip whose top level holds state.json: a checkpoint of this tool (a TorchScript file keeps its entries in a folder). */
    static boolean isCheckpoint(Path file) {
        if (!Files.isRegularFile(file)) return false;
        try (ZipFile z = new ZipFile(file.toFile())) {
            return z.getEntry("state.json") != null;
        } catch (IOException e) {
            return false;
        }
    }

    static void checkpoint(Path file, PrintWriter out) {
        try (ZipFile z = new ZipFile(file.toFile())) {
            JsonObject state = json(z, "state.json");
            out.printf("%s: a checkpoint at step %s (format %s)%n", file, state.get("step"), state.get("format"));
            for (Map.Entry<String, JsonElement> e : state.entrySet())
                if (!e.getKey().equals("step") && !e.getKey().equals("format")) out.println("  " + e.getKey() + ": " + e.getValue());
            if (z.getEntry("config.json") != null) config(json(z, "config.json"), out);
            out.println("parts:");
            for (ZipEntry e : z.stream().toList()) out.printf(Locale.ROOT, "  %-24s %,12d bytes%n", e.getName(), e.getSize());
        } catch (IOException e) {
            throw new InvalidInputException("inspect " + file + ": cannot read the checkpoint (" + IoErrors.describe(e) + ")");
        }
    }

    static void runFolder(Path dir, PrintWriter out) {
        Path cfg = dir.resolve("config.json"), ckpts = dir.resolve("checkpoints");
        if (!Files.isRegularFile(cfg) && !Files.isDirectory(ckpts))
            throw new InvalidInputException("inspect " + dir + ": a folder, but not a run of this tool (no config.json, no checkpoints/)");
        out.println(dir + ": a run folder");
        try {
            if (Files.isRegularFile(cfg)) config(JsonParser.parseString(Files.readString(cfg)).getAsJsonObject(), out);
            out.println("checkpoints:");
            if (Files.isDirectory(ckpts))
                try (Stream<Path> s = Files.list(ckpts)) {
                    for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".zip")).sorted().toList())
                        out.printf(Locale.ROOT, "  %-24s %,12d bytes%n", p.getFileName(), Files.size(p));
                }
            out.println("outputs:");
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.filter(Files::isRegularFile).sorted().toList())
                    out.printf(Locale.ROOT, "  %-24s %,12d bytes%n", p.getFileName(), Files.size(p));
            }
            Path metrics = dir.resolve("metrics.jsonl");
            if (Files.isRegularFile(metrics)) {
                List<String> lines = Files.readAllLines(metrics);
                if (!lines.isEmpty()) out.println("last logged: " + lines.get(lines.size() - 1));
            }
        } catch (IOException e) {
            throw new InvalidInputException("inspect " + dir + ": " + IoErrors.describe(e));
        } catch (RuntimeException e) {
            if (e instanceof InvalidInputException) throw e;
            throw new InvalidInputException("inspect " + dir + ": config.json is not valid JSON: " + e.getMessage());
        }
    }

    private static void config(JsonObject c, PrintWriter out) {
        out.println("config (key fields; config.json holds all of it and is a valid --config):");
        for (String k : KEY_FIELDS) if (c.has(k) && !c.get(k).isJsonNull()) out.println("  " + k + ": " + c.get(k));
    }

    private static JsonObject json(ZipFile z, String name) throws IOException {
        ZipEntry e = z.getEntry(name);
        if (e == null) throw new IOException("no " + name + " in it");
        try (var in = z.getInputStream(e)) {
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (RuntimeException bad) {
            throw new IOException(name + " is not valid JSON");
        }
    }
}
