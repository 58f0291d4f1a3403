package dev.diffinstruct.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.trainer.InvalidInputException;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code --config run.json}: option values from a JSON object whose keys are long option names
 * without dashes ({@code "lr-g": 1e-4}, {@code "steps": 2000}), or a run's own {@code config.json}
 * ({@link #asOptions}); flags on the command line override them. Unknown keys are an error, so a
 * typo in a config file is not silently ignored.
 */
final class ConfigFileDefaults implements CommandLine.IDefaultValueProvider {
    private final Path file;
    private final Map<String, JsonElement> values;

    private ConfigFileDefaults(Path file, Map<String, JsonElement> values) {
        this.file = file;
        this.values = values;
    }

    /** Finds {@code --config FILE} (or {@code --config=FILE}) among the arguments, or null. */
    static Path configArgument(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) return Path.of(args[i + 1]);
            if (args[i].startsWith("--config=")) return Path.of(args[i].substring("--config=".length()));
        }
        return null;
    }

    static ConfigFileDefaults read(Path file) {
        try {
            JsonElement root = JsonParser.parseString(Files.readString(file));
            if (!root.isJsonObject()) throw new InvalidInputException(file + ": a config file must hold one JSON object");
            return new ConfigFileDefaults(file, asOptions(((JsonObject) root).asMap()));
        } catch (IOException e) {
            throw new InvalidInputException("cannot read config file " + file + ": " + e.getMessage());
        } catch (RuntimeException e) {
            if (e instanceof InvalidInputException) throw e;
            throw new InvalidInputException(file + " is not valid JSON: " + e.getMessage());
        }
    }

    /**
     * A run's own {@code config.json} (field names: {@code lrG}, {@code beta1}/{@code beta2},
     * {@code trainMode}) as option names ({@code lr-g}, {@code betas}, {@code no-dropout}), so that
     * a run can be run again from its config; keys that already are option names pass unchanged.
     */
    static Map<String, JsonElement> asOptions(Map<String, JsonElement> raw) {
        Map<String, JsonElement> out = new java.util.LinkedHashMap<>();
        JsonElement beta1 = null, beta2 = null;
        for (Map.Entry<String, JsonElement> e : raw.entrySet()) {
            String k = e.getKey();
            JsonElement v = e.getValue();
            if (v == null || v.isJsonNull()) continue; // unset in the run (e.g. no --generator): the default
            switch (k) {
                case "beta1" -> beta1 = v;
                case "beta2" -> beta2 = v;
                case "trainMode" -> { // the networks' dropout: on unless --no-dropout
                    if (!v.getAsBoolean()) out.put("no-dropout", new com.google.gson.JsonPrimitive(true));
                }
                case "genRangeCheck" -> { // on unless --no-range-check
                    if (!v.getAsBoolean()) out.put("no-range-check", new com.google.gson.JsonPrimitive(true));
                }
                case "latentShape" -> out.put("latent-dim", v);
                case "maxSkippedInARow" -> { } // a fixed limit of train-teacher, not an option
                default -> out.put(k.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT), v);
            }
        }
        if (beta1 != null || beta2 != null) {
            if (beta1 == null || beta2 == null) throw new InvalidInputException("a config with beta1 needs beta2 too (or \"betas\": [b1, b2])");
            com.google.gson.JsonArray betas = new com.google.gson.JsonArray();
            betas.add(beta1);
            betas.add(beta2);
            out.put("betas", betas);
        }
        return out;
    }

    /** The option names the file sets (long names without dashes). */
    Set<String> keys() {
        return values.keySet();
    }

    /** Checks every key names an option of {@code spec}'s command. */
    void validate(CommandLine.Model.CommandSpec spec) {
        Set<String> known = new TreeSet<>();
        for (OptionSpec o : spec.options()) known.add(o.longestName().replaceFirst("^-+", ""));
        List<String> unknown = new ArrayList<>();
        for (String k : values.keySet()) if (!known.contains(k)) unknown.add(k);
        if (!unknown.isEmpty())
            throw new InvalidInputException(file + ": unknown option(s) " + unknown + " for '" + spec.name() + "'");
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec o)) return null;
        JsonElement v = values.get(o.longestName().replaceFirst("^-+", ""));
        if (v == null || v.isJsonNull()) return null;
        if (v.isJsonArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonElement e : v.getAsJsonArray()) parts.add(e.getAsString());
            return String.join(",", parts);
        }
        return v.getAsString();
    }
}
