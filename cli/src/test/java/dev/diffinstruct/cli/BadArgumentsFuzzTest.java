package dev.diffinstruct.cli;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Adversarial values for every option of every command (negative, zero, huge, NaN, infinite,
 * not a number, empty, a path below a file, a file where a folder is expected and the other way
 * round), each on a cheap valid command line: every run ends with exit 0 (the value was fine) or
 * exit 2 with one "error:" line that names the option or its value, and a refused run leaves no
 * file behind. {@code -Dreliability.args=all} tries every pair (scripts/reliability.sh); the
 * default suite tries 60 at random.
 */
class BadArgumentsFuzzTest {
    @TempDir
    static Path dir;
    static Path gen, teacher, samples, aFile, aDir;

    static final String[] VALUES = {"-1", "0", "1e400", "NaN", "-Infinity", "abc", "", "99999999999999999999", "3,-2",
            "FILE/x", "FILE", "DIR"};
    /** Options whose value is a path: relative values are taken inside the case's own folder, not the module's. */
    static final Set<String> PATHS = Set.of("--out", "--teacher", "--generator", "--fake", "--features", "--labels", "--modes",
            "--reference", "--samples", "--data", "--model", "--config");

    @BeforeAll
    static void inputs() throws IOException {
        Cli r = Cli.run("distill", "--out", dir.resolve("run").toString(), "--steps", "2", "--batch", "8", "--hidden", "8",
                "--warmup-fake", "1", "-q");
        assertEquals(0, r.exitCode(), r.err());
        gen = dir.resolve("run/generator.pt");
        teacher = dir.resolve("mixture.pt");
        try (ScriptModule m = MixtureTeacher.defaultRing().toModule()) {
            m.save(teacher);
        }
        samples = dir.resolve("s.npy");
        assertEquals(0, Cli.run("sample", "--generator", gen.toString(), "--n", "50", "--out", samples.toString()).exitCode());
        aFile = dir.resolve("a-file.txt");
        Files.writeString(aFile, "not a folder\n");
        aDir = Files.createDirectories(dir.resolve("a-folder"));
    }

    /** A cheap command line that succeeds, for each command; {@code w} is a fresh folder for its outputs. */
    static List<String> base(String cmd, Path w) {
        String o = w.resolve("out").toString();
        return new ArrayList<>(switch (cmd) {
            case "distill" -> List.of("--out", o, "--steps", "2", "--batch", "8", "--hidden", "8", "--warmup-fake", "1", "-q");
            case "refine" -> List.of("--generator", gen.toString(), "--out", o, "--steps", "2", "--batch", "8", "--warmup-fake", "1", "-q");
            case "sample" -> List.of("--generator", gen.toString(), "--n", "3", "--out", o + ".npy");
            case "teacher-sample" -> List.of("--teacher", teacher.toString(), "--shape", "2", "--n", "2", "--steps", "2", "--out", o + ".npy");
            case "eval" -> List.of("--samples", samples.toString(), "--reference", samples.toString());
            case "grid" -> List.of(samples.toString(), "--out", o + ".png");
            case "inspect" -> List.of(gen.toString());
            case "demo" -> List.of("--steps", "2", "--out", o, "-q");
            default -> List.of();
        });
    }

    record Case(String command, String option, String value) {}

    static List<Case> cases() {
        List<Case> all = new ArrayList<>();
        CommandLine cl = Main.newCommandLine();
        for (var e : cl.getSubcommands().entrySet()) {
            String cmd = e.getKey();
            if (cmd.equals("help") || cmd.equals("train-teacher")) continue; // train-teacher: BadInput tests of its own (data sets)
            for (CommandLine.Model.OptionSpec o : e.getValue().getCommandSpec().options()) {
                String name = o.longestName();
                if (o.usageHelp() || o.versionHelp() || !o.arity().isVariable() && o.arity().max() == 0) continue; // flags
                if (Set.of("--debug", "--config").contains(name)) continue;
                for (String v : VALUES) all.add(new Case(cmd, name, v));
            }
        }
        return all;
    }

    private static Set<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return new TreeSet<>(s.filter(Files::isRegularFile).toList());
        }
    }

    @Test
    void everyOptionRefusesBadValuesInOneLine() throws IOException {
        List<Case> cases = cases();
        String mode = System.getProperty("reliability.args", "60");
        if (!mode.equals("all")) {
            Collections.shuffle(cases, new Random(Long.getLong("reliability.seed", 3)));
            cases = cases.subList(0, Math.min(cases.size(), Integer.parseInt(mode)));
        }
        Map<String, int[]> tally = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        int i = 0;
        for (Case c : cases) {
            Path w = Files.createDirectories(dir.resolve("w" + i++));
            String value = c.value().replace("FILE", aFile.toString()).replace("DIR", aDir.toString());
            if (PATHS.contains(c.option()) && !value.isEmpty() && !value.startsWith("/")) value = w.resolve(value).toString();
            List<String> args = base(c.command(), w);
            int at = args.indexOf(c.option());
            if (at >= 0) {
                args.set(at + 1, value);
            } else if (c.command().equals("eval") && (c.option().equals("--generator"))) {
                args.set(0, "--generator"); // --samples and --generator exclude each other
                args.set(1, value);
            } else {
                args.add(c.option() + "=" + value);
            }
            args.add(0, c.command());
            Set<Path> before = files(w);
            Cli r = Cli.run(args.toArray(String[]::new));
            int[] t = tally.computeIfAbsent(c.command(), k -> new int[2]);
            String what = String.join(" ", args) + " -> exit " + r.exitCode() + ": " + r.err().strip();
            List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
            if (r.exitCode() == 0) {
                t[0]++;
            } else if (r.exitCode() != 2) {
                failures.add("not exit 0/2: " + what);
            } else if (errors.size() != 1) {
                failures.add("not one error line: " + what);
            } else if (!errors.get(0).contains(c.option()) && (value.isEmpty() || !errors.get(0).contains(value))) {
                failures.add("the error names neither " + c.option() + " nor its value: " + what);
            } else if (!files(w).equals(before)) {
                failures.add("a refused run left files " + files(w) + ": " + what);
            } else {
                t[1]++;
            }
        }
        System.out.printf("BadArgumentsFuzzTest: %d cases%n%-16s %6s %8s%n", cases.size(), "command", "exit 0", "exit 2");
        for (var e : tally.entrySet()) System.out.printf("%-16s %6d %8d%n", e.getKey(), e.getValue()[0], e.getValue()[1]);
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases.size() + ":\n" + String.join("\n", failures));
    }
}
