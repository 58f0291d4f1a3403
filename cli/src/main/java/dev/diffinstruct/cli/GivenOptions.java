package dev.diffinstruct.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The configuration fields a user asked for, on the command line or in {@code --config}. A
 * resumed run reports only those that differ from its checkpoint: an option left at its default
 * is not a request, so it should not warn that the checkpoint's value wins.
 */
final class GivenOptions {
    /** Options whose field is not the option's name in camel case. */
    private static final Map<String, List<String>> FIELDS = Map.of(
            "no-dropout", List.of("trainMode"),
            "betas", List.of("beta1", "beta2"),
            "latent-dim", List.of("latentShape"));

    private GivenOptions() {}

    static Set<String> fields(CommandSpec spec) {
        Set<String> names = new HashSet<>();
        for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) names.add(bare(o.longestName()));
        // --config's values reach the options as defaults, from the provider Main installed
        if (spec.defaultValueProvider() instanceof ConfigFileDefaults file) names.addAll(file.keys());
        Set<String> fields = new HashSet<>();
        for (String n : names) fields.addAll(FIELDS.getOrDefault(n, List.of(camel(n))));
        return fields;
    }

    private static String bare(String option) {
        return option.replaceFirst("^-+", "");
    }

    /** {@code ema-halflife} -> {@code emaHalflife}. */
    static String camel(String name) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char ch : name.toCharArray()) {
            if (ch == '-') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(ch) : ch);
                up = false;
            }
        }
        return b.toString();
    }
}
