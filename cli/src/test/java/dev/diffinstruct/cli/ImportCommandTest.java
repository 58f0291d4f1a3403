package dev.diffinstruct.cli;

import dev.diffinstruct.torch.ScriptModule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * import edm and import module as a user runs them: EDM-format pickles made from the project's own
 * network source (unconditional EDM and class-conditional VP), distilled, sampled and loaded back in
 * Python; bad and hostile files refused with one line and nothing written.
 */
class ImportCommandTest {
    static final Path REPO = Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    static final String PY = System.getProperty("python", "/usr/bin/python3");
    static final String NET = "\"img_resolution\": 8, \"img_channels\": 1, \"model_type\": \"SongUNet\", \"model_channels\": 16, "
            + "\"channel_mult\": [1, 2], \"num_blocks\": 1, \"attn_resolutions\": [4]";

    @TempDir
    static Path dir;

    static Path uncond, cond;

    static String python(String... args) throws IOException, InterruptedException {
        return pythonIn(dir, args);
    }

    /** Runs the tests' Python in folder {@code cwd}; returns its output, fails the test when it fails. */
    static String pythonIn(Path cwd, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(PY));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), "python failed:\n" + out);
        return out;
    }

    static Path pickle(String name, String precond, String extraConfig, String... flags) throws Exception {
        Path f = dir.resolve(name);
        List<String> args = new ArrayList<>(List.of(REPO.resolve("models/edm/make_edm_pickle.py").toString(), "--out", f.toString(),
                "--precond", precond, "--config", "{" + NET + extraConfig + "}"));
        args.addAll(List.of(flags));
        python(args.toArray(String[]::new));
        return f;
    }

    @BeforeAll
    static void pickles() throws Exception {
        uncond = pickle("edm-uncond.pkl", "EDMPrecond", "");
        cond = pickle("vp-cond.pkl", "VPPrecond", ", \"label_dim\": 3");
    }

    static Cli importEdm(Path pkl, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("import", "edm", "--pkl", pkl.toString(), "--out", out.toString(), "--python", PY));
        args.addAll(List.of(more));
        return Cli.run(args.toArray(String[]::new));
    }

    static void assertRefused(Cli r, Path out, String fragment) {
        assertEquals(Main.EXIT_USAGE, r.exitCode(), r.toString());
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), r.err());
        assertTrue(errors.get(0).contains(fragment), "expected '" + fragment + "' in: " + errors.get(0));
        assertFalse(Files.exists(out), out + " must not be written");
    }

    @Test
    void unconditionalPickleImportsDistilsAndSamples() throws Exception {
        Path teacher = dir.resolve("uncond.pt");
        Cli r = importEdm(uncond, teacher);
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("EDMPrecond(SongUNet)") && r.out().contains("in Python") && r.out().contains("on this LibTorch"), r.out());
        assertTrue(r.err().contains("skipped entries loss_fn, dataset_kwargs"), r.err());
        try (ScriptModule t = ScriptModule.load(teacher)) {
            assertArrayEquals(new long[] {1, 8, 8}, t.getIntList("data_shape"));
            assertEquals(0.5, t.getDouble("sigma_data"));
            assertEquals(0, t.getDouble("label_dim"));
        }
        distillSampleAndLoad(teacher, 0);
    }

    @Test
    void conditionalPickleImportsDistilsAndSamples() throws Exception {
        Path teacher = dir.resolve("cond.pt");
        Cli r = importEdm(cond, teacher, "--no-exec");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("VPPrecond(SongUNet)") && r.out().contains("3 classes"), r.out());
        assertTrue(r.out().contains("--classes 3"), "the usage hint names --classes: " + r.out());
        try (ScriptModule t = ScriptModule.load(teacher)) {
            assertEquals(3, t.getDouble("num_classes"));
        }
        distillSampleAndLoad(teacher, 3);
    }

    /** distill 3 steps, sample, and Python's torch.jit.load runs the generator. */
    static void distillSampleAndLoad(Path teacher, int classes) throws Exception {
        Path run = dir.resolve("run-" + teacher.getFileName());
        Cli d = Cli.run("distill", "--teacher", teacher.toString(), "--classes", Integer.toString(classes), "--out", run.toString(),
                "--steps", "3", "--warmup-fake", "1", "--batch", "4", "--seed", "0");
        assertEquals(0, d.exitCode(), d.toString());
        Path samples = dir.resolve("samples-" + classes + ".npy");
        Cli s = Cli.run("sample", "--generator", run.resolve("generator.pt").toString(), "--classes", Integer.toString(classes),
                "--n", "6", "--out", samples.toString());
        assertEquals(0, s.exitCode(), s.toString());
        SamplingCommandsTest.assertNumpyReads(samples, "(6, 1, 8, 8)");
        String out = python("-c", """
                import sys, torch
                g = torch.jit.load(sys.argv[1]).eval()
                z = torch.randn([5] + list(g.latent_shape))
                c = int(sys.argv[2])
                x = g(z, torch.eye(c)[torch.arange(5) % c]) if c else g(z)
                print(tuple(x.shape), bool(torch.isfinite(x).all()))
                """, run.resolve("generator.pt").toString(), Integer.toString(classes));
        assertEquals("(5, 1, 8, 8) True", out.strip());
    }

    @Test
    void hostileAndBrokenPicklesAreRefusedBeforeAnythingRuns() throws Exception {
        Path marker = dir.resolve("ran.txt");
        Path evil = dir.resolve("evil.pkl"), noEma = dir.resolve("no-ema.pkl"), foreign = dir.resolve("foreign.pkl"), text = dir.resolve("text.pkl");
        python("-c", """
                import os, pickle, sys, torch
                class Evil:
                    def __reduce__(self):
                        return os.system, ('touch ' + sys.argv[4],)
                pickle.dump({'ema': Evil()}, open(sys.argv[1], 'wb'))
                pickle.dump({'G': 1, 'D': 2}, open(sys.argv[2], 'wb'))
                pickle.dump({'ema': torch.nn.Linear(2, 2)}, open(sys.argv[3], 'wb'))
                """, evil.toString(), noEma.toString(), foreign.toString(), marker.toString());
        Files.writeString(text, "not a pickle at all");
        Path out = dir.resolve("refused.pt");
        assertRefused(importEdm(evil, out), out, "system");
        assertFalse(Files.exists(marker), "the pickle's payload must not run");
        assertRefused(importEdm(noEma, out), out, "'ema'");
        assertRefused(importEdm(foreign, out), out, "torch.nn.modules.linear.Linear");
        assertRefused(importEdm(text, out), out, "text.pkl");
        assertRefused(importEdm(dir.resolve("missing.pkl"), out), out, "no such file");
    }

    @Test
    void aNetworkWhoseSourceDisagreesFailsTheCheck() throws Exception {
        Path perturbed = pickle("perturbed.pkl", "EDMPrecond", "", "--perturb");
        Path out = dir.resolve("perturbed.pt");
        assertRefused(importEdm(perturbed, out), out, "disagrees with the eager one");
        // without the pickle's source as reference, the parameters alone define the network
        assertEquals(0, importEdm(perturbed, out, "--no-exec").exitCode());
        assertTrue(Files.exists(out));
    }

    @Test
    void badOptionsAreOneLine() {
        Path out = dir.resolve("x.pt");
        assertRefused(importEdm(uncond, dir.resolve("x.npy")), dir.resolve("x.npy"), "must end in .pt");
        assertRefused(importEdm(uncond, dir.resolve("nowhere/x.pt")), dir.resolve("nowhere/x.pt"), "does not exist");
        assertRefused(Cli.run("import", "edm", "--pkl", uncond.toString(), "--out", out.toString(), "--python", dir.resolve("no-python").toString()),
                out, "--python");
        assertRefused(importEdm(uncond, out, "--tolerance", "-1"), out, "--tolerance");
        assertEquals(Main.EXIT_USAGE, Cli.run("import").exitCode());
    }

    /** The jar carries every file of models/edm that the helper imports. */
    @Test
    void theHelperListNamesEveryPythonFile() throws IOException {
        Path edm = REPO.resolve("models/edm");
        try (Stream<Path> s = Files.walk(edm)) {
            List<String> files = s.filter(p -> p.toString().endsWith(".py")).map(p -> edm.relativize(p).toString())
                    .filter(f -> !f.equals("make_edm_pickle.py")).sorted().toList();
            assertEquals(files, PythonHelper.FILES.stream().sorted().toList());
        }
        for (String f : PythonHelper.FILES) assertTrue(PythonHelper.class.getResource(PythonHelper.RESOURCES + f) != null, f);
    }
}
