package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing, outputs and one-line errors of sample, teacher-sample and eval. */
class SamplingCommandsTest {
    @TempDir
    static Path dir;

    static Path ring, generator, bareGenerator, condGenerator, xOnly, features;

    static void assertUsageError(Cli r, String fragment) {
        assertEquals(Main.EXIT_USAGE, r.exitCode(), r.toString());
        assertTrue(r.err().contains(fragment), "stderr should mention '" + fragment + "': " + r.err());
    }

    /** An execution-time input error: exit 2 and exactly one line on stderr. */
    static void assertOneLineError(Cli r, String fragment) {
        assertUsageError(r, fragment);
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
    }

    @BeforeAll
    static void modules() {
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            ring = dir.resolve("ring.pt");
            try (ScriptModule m = MixtureTeacher.defaultRing().toModule()) {
                m.save(ring);
            }
            generator = dir.resolve("gen.pt");
            try (ScriptModule m = ScriptModule.create("Gen")) {
                m.registerBuffer("w", Tensor.of(new float[] {1, 0.5f, 0, 2}, 2, 2));
                m.setAttribute("latent_shape", new long[] {2});
                m.define("""
                        def forward(self, z: Tensor) -> Tensor:
                            return z @ self.w + 1.0
                        """);
                m.save(generator);
            }
            bareGenerator = dir.resolve("bare.pt");
            try (ScriptModule m = ScriptModule.create("Bare")) {
                m.define("""
                        def forward(self, z: Tensor) -> Tensor:
                            return z.reshape(z.size(0), 1, 2, 2)
                        """);
                m.save(bareGenerator);
            }
            condGenerator = dir.resolve("cond.pt");
            try (ScriptModule m = ScriptModule.create("CondGen")) {
                m.setAttribute("latent_shape", new long[] {2});
                m.define("""
                        def forward(self, z: Tensor, class_labels: Tensor) -> Tensor:
                            return z * 0.01 + class_labels[:, :2] * 10.0
                        """);
                m.save(condGenerator);
            }
            xOnly = dir.resolve("xonly.pt");
            try (ScriptModule m = ScriptModule.create("XOnly")) {
                m.define("""
                        def forward(self, x: Tensor) -> Tensor:
                            return x
                        """);
                m.save(xOnly);
            }
            features = dir.resolve("features.pt");
            try (ScriptModule m = ScriptModule.create("Feat")) {
                m.registerBuffer("w", Tensor.randn(g, 4, 6));
                m.define("""
                        def forward(self, x: Tensor) -> Tensor:
                            return torch.tanh(x.flatten(1) @ self.w)
                        """);
                m.save(features);
            }
        }
    }

    // ---- sample ----------------------------------------------------------------------------------

    @Test
    void sampleWritesAnNpyThatDoesNotDependOnTheBatch() throws Exception {
        Path a = dir.resolve("a.npy"), b = dir.resolve("b.npy");
        Cli r = Cli.run("sample", "--generator", generator.toString(), "--n", "10", "--seed", "1", "--batch", "3", "--out", a.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("wrote 10 samples of shape [2]"), r.out());
        assertEquals(0, Cli.run("sample", "--generator", generator.toString(), "--n", "10", "--seed", "1", "--batch", "10", "--out", b.toString()).exitCode());
        try (Scope s = Scope.open()) {
            Tensor x = Npy.read(a);
            assertArrayEquals(new long[] {10, 2}, x.shape());
            assertEquals(DType.FLOAT32, x.dtype());
            // exact by construction, whatever the BLAS blocking for 3 vs 10 rows: w holds 1, 0.5, 0, 2, so each output
            // is one correctly rounded sum of two exact products (+ 1.0), the same in any order, with or without FMA
            assertTrue(x.allClose(Npy.read(b), 0, 0));
        }
        assertNumpyReads(a, "(10, 2)");
        // without --batch the CPU default, 100 per call (measured, --help), and the same samples again
        Path c = dir.resolve("c.npy");
        r = Cli.run("sample", "--generator", generator.toString(), "--n", "150", "--seed", "1", "--out", c.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.err().contains("generated 100/150"), r.err());
        try (Scope s = Scope.open()) {
            assertTrue(Npy.read(c).narrow(0, 0, 10).allClose(Npy.read(a), 0, 0));
        }
    }

    /** numpy.load reads the file as float32, C order, of the given shape (skipped without numpy). */
    static void assertNumpyReads(Path file, String shape) throws IOException, InterruptedException {
        String py = System.getProperty("python", "/usr/bin/python3");
        Process check = new ProcessBuilder(py, "-c", "import numpy").redirectErrorStream(true).start();
        check.getInputStream().readAllBytes();
        if (!check.waitFor(60, TimeUnit.SECONDS) || check.exitValue() != 0) return;
        Process p = new ProcessBuilder(py, "-c", "import numpy, sys; a = numpy.load(sys.argv[1]); "
                + "print(a.dtype, a.shape, a.flags.c_contiguous, bool(numpy.isfinite(a).all()))", file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("float32 " + shape + " True True", out);
    }

    @Test
    void sampleUsesLatentDimAndWritesLabels() {
        Path a = dir.resolve("bare.npy");
        Cli r = Cli.run("sample", "--generator", bareGenerator.toString(), "--latent-dim", "4", "--n", "5", "--out", a.toString());
        assertEquals(0, r.exitCode(), r.toString());
        try (Scope s = Scope.open()) {
            assertArrayEquals(new long[] {5, 1, 2, 2}, Npy.read(a).shape());
        }
        Path c = dir.resolve("cond.npy");
        r = Cli.run("sample", "--generator", condGenerator.toString(), "--classes", "3", "--label", "1", "--n", "4", "--out", c.toString());
        assertEquals(0, r.exitCode(), r.toString());
        try (Scope s = Scope.open()) {
            double[] x = Npy.read(c).toDoubleArray();
            for (int i = 0; i < 4; i++) assertEquals(10, x[2 * i + 1], 0.1); // class 1 -> second coordinate 10
            assertArrayEquals(new long[] {1, 1, 1, 1}, Npy.read(dir.resolve("cond.labels.npy")).toLongArray());
        }
        // --label each: class i mod C, so a grid with C columns has one class per column
        r = Cli.run("sample", "--generator", condGenerator.toString(), "--classes", "3", "--label", "each", "--n", "5", "--out", c.toString());
        assertEquals(0, r.exitCode(), r.toString());
        try (Scope s = Scope.open()) {
            assertArrayEquals(new long[] {0, 1, 2, 0, 1}, Npy.read(dir.resolve("cond.labels.npy")).toLongArray());
            double[] x = Npy.read(c).toDoubleArray();
            assertEquals(10, x[2 * 1 + 1], 0.1);
            assertEquals(0, x[2 * 3 + 1], 0.1);
        }
        assertOneLineError(Cli.run("sample", "--generator", condGenerator.toString(), "--classes", "3", "--label", "3", "--out", c.toString()),
                "outside [0, 3)");
        assertOneLineError(Cli.run("sample", "--generator", condGenerator.toString(), "--classes", "3", "--label", "all", "--out", c.toString()),
                "random or each");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--label", "1", "--out", c.toString()), "give --classes C");
        // unlabelled samples written over labelled ones take the stale labels away, so eval cannot pair them
        assertTrue(Files.exists(dir.resolve("cond.labels.npy")));
        assertEquals(0, Cli.run("sample", "--generator", generator.toString(), "--n", "5", "--out", c.toString()).exitCode());
        assertFalse(Files.exists(dir.resolve("cond.labels.npy")));
    }

    @Test
    void sampleErrors() throws IOException {
        Path o = dir.resolve("e.npy");
        assertOneLineError(Cli.run("sample", "--generator", dir.resolve("missing.pt").toString(), "--out", o.toString()), "no such file");
        assertOneLineError(Cli.run("sample", "--generator", bareGenerator.toString(), "--out", o.toString()), "--latent-dim");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--latent-dim", "3", "--out", o.toString()), "disagrees");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--n", "0", "--out", o.toString()), "--n must be >= 1");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--out", dir.resolve("no/such/x.npy").toString()), "does not exist");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--out", dir.resolve("x.txt").toString()), "must end in .npy");
        assertOneLineError(Cli.run("sample", "--generator", generator.toString(), "--classes", "2", "--out", o.toString()), "failed on latents");
        assertOneLineError(Cli.run("sample", "--generator", ring.toString(), "--out", o.toString()), "latent_shape");
        Path junk = dir.resolve("junk.pt");
        Files.writeString(junk, "not a model");
        assertOneLineError(Cli.run("sample", "--generator", junk.toString(), "--latent-dim", "2", "--out", o.toString()), "not a valid TorchScript file");
        assertUsageError(Cli.run("sample", "--out", o.toString()), "--generator");
        assertUsageError(Cli.run("sample", "--generator", generator.toString(), "--n", "many", "--out", o.toString()), "--n");
    }

    // ---- teacher-sample ----------------------------------------------------------------------------

    @Test
    void teacherSampleRunsHeun() {
        Path o = dir.resolve("t.npy");
        Cli r = Cli.run("teacher-sample", "--teacher", ring.toString(), "--teacher-kind", "edm", "--shape", "2", "--n", "20",
                "--steps", "18", "--batch", "8", "--seed", "3", "--out", o.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("35 network evaluations per sample"), r.out());
        try (Scope s = Scope.open()) {
            Tensor x = Npy.read(o);
            assertArrayEquals(new long[] {20, 2}, x.shape());
            double[] radius = x.norm(new long[] {1}, false).toDoubleArray();
            for (double v : radius) assertEquals(1, v, 0.5); // on the ring
        }
    }

    @Test
    void teacherSampleTakesTheShapeFromTheTeacherAndDefaultsToEdm() {
        Path shaped = dir.resolve("ring-shaped.pt"), o = dir.resolve("ts.npy");
        try (ScriptModule m = MixtureTeacher.defaultRing().toModule()) {
            m.setAttribute("data_shape", new long[] {2});
            m.save(shaped);
        }
        Cli r = Cli.run("teacher-sample", "--teacher", shaped.toString(), "--n", "6", "--steps", "4", "--out", o.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("shape [2]") && r.out().contains("edm teacher"), r.out());
        try (Scope s = Scope.open()) {
            assertArrayEquals(new long[] {6, 2}, Npy.read(o).shape());
        }
    }

    @Test
    void teacherSampleErrors() {
        Path o = dir.resolve("te.npy");
        String t = ring.toString();
        assertOneLineError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "edm", "--shape", "3", "--out", o.toString()),
                "does not fit --teacher-kind edm and data shape 3");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "edm", "--classes", "2", "--shape", "2", "--out", o.toString()),
                "class_labels");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", xOnly.toString(), "--teacher-kind", "vp-eps", "--shape", "2", "--out", o.toString()),
                "does not fit --teacher-kind vp-eps");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", dir.resolve("none.pt").toString(), "--teacher-kind", "edm", "--shape", "2",
                "--out", o.toString()), "no such file");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "edm", "--shape", "0", "--out", o.toString()),
                "sizes must be positive");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "edm", "--shape", "2", "--sigma-min", "0", "--out", o.toString()),
                "sigma-min");
        assertUsageError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "ddim", "--shape", "2", "--out", o.toString()),
                "unknown teacher kind 'ddim'");
        assertUsageError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "edm", "--shape", "2,x", "--out", o.toString()), "--shape");
        assertOneLineError(Cli.run("teacher-sample", "--teacher", t, "--out", o.toString()), "no data_shape attribute: give --shape");
        assertUsageError(Cli.run("teacher-sample", "--teacher", t, "--teacher-kind", "ddpm-eps", "--schedule", "sqrt", "--shape", "2",
                "--out", o.toString()), "unknown DDPM schedule");
    }

    // ---- eval ----------------------------------------------------------------------------------------

    @Test
    void evalLowDimAndWithFeatures() {
        Path samples = dir.resolve("ev_s.npy"), refs = dir.resolve("ev_r.npy"), imgs = dir.resolve("ev_i.npy"), irefs = dir.resolve("ev_ir.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(5)) {
            MixtureTeacher m = MixtureTeacher.defaultRing();
            Npy.write(samples, m.sample(g, 300));
            Npy.write(refs, m.sample(g, 400));
            Npy.write(imgs, Tensor.randn(g, 50, 1, 2, 2));
            Npy.write(irefs, Tensor.randn(g, 60, 1, 2, 2).add(0.5));
        }
        Cli r = Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("frechet distance (data space)") && r.out().contains("precision (k=3)") && r.out().contains("recall (k=3)"), r.out());
        assertTrue(r.err().contains("note: 300 samples against 400 reference points (2-d): at this n the frechet distance is biased"), r.err());
        r = Cli.run("eval", "--samples", imgs.toString(), "--reference", irefs.toString(), "--features", features.toString(), "--batch", "16");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("frechet distance (features of features.pt (6-d))"), r.out());
        r = Cli.run("eval", "--generator", generator.toString(), "--n", "200", "--reference", refs.toString());
        assertEquals(0, r.exitCode(), r.toString());

        assertOneLineError(Cli.run("eval", "--samples", imgs.toString(), "--reference", irefs.toString()), "give --features");
        assertOneLineError(Cli.run("eval", "--samples", samples.toString(), "--reference", irefs.toString()), "same shape per sample");
        assertOneLineError(Cli.run("eval", "--samples", samples.toString(), "--reference", dir.resolve("nope.npy").toString()), "no such file");
        assertOneLineError(Cli.run("eval", "--samples", imgs.toString(), "--reference", irefs.toString(), "--features", xOnly.toString()),
                "must return [N, F]");
        assertUsageError(Cli.run("eval", "--samples", samples.toString(), "--generator", generator.toString(), "--reference", refs.toString()),
                "mutually exclusive");
        assertUsageError(Cli.run("eval", "--reference", refs.toString()), "--samples");
    }

    @Test
    void evalEnergyDistanceAndModeCoverage() {
        Path samples = dir.resolve("mc_s.npy"), refs = dir.resolve("mc_r.npy"), collapsed = dir.resolve("mc_c.npy"), centres = dir.resolve("mc_m.npy");
        MixtureTeacher ring8 = MixtureTeacher.defaultRing();
        try (Scope s = Scope.open(); Generator g = new Generator(6)) {
            Npy.write(samples, ring8.sample(g, 800));
            Npy.write(refs, ring8.sample(g, 800).to(DType.FLOAT64));
            // every sample near mode 0 (1, 0)
            Npy.write(collapsed, Tensor.randn(g, 800, 2).mul(0.08).add(Tensor.of(new float[] {1f, 0f}, 1, 2)));
            float[] mu = new float[16];
            for (int i = 0; i < 8; i++) {
                mu[2 * i] = (float) ring8.means()[i][0];
                mu[2 * i + 1] = (float) ring8.means()[i][1];
            }
            Npy.write(centres, Tensor.of(mu, 8, 2));
        }
        Cli good = Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString(), "--modes", "builtin:mixture");
        assertEquals(0, good.exitCode(), good.toString());
        Cli bad = Cli.run("eval", "--samples", collapsed.toString(), "--reference", refs.toString(), "--modes", centres.toString());
        assertEquals(0, bad.exitCode(), bad.toString());
        System.out.println("eval of ring samples:\n" + good.out() + "eval of collapsed samples:\n" + bad.out());
        double edGood = energy(good.out()), edBad = energy(bad.out());
        assertTrue(edGood < 0.01 && edBad > 0.3, edGood + ", " + edBad);
        assertTrue(good.out().contains("modes (builtin:mixture): samples: modes covered 8/8"), good.out());
        assertTrue(bad.out().contains("samples: modes covered 1/8"), bad.out());
        assertTrue(bad.out().contains("reference: modes covered 8/8"), bad.out());
        Cli fixedStd = Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString(), "--modes", centres.toString(), "--mode-std", "0.08");
        assertEquals(0, fixedStd.exitCode(), fixedStd.toString());
        assertTrue(fixedStd.out().contains("samples: modes covered 8/8"), fixedStd.out());

        assertOneLineError(Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString(), "--modes", ring.toString()), "--modes");
        assertOneLineError(Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString(), "--mode-std", "0.1"), "needs --modes");
        assertOneLineError(Cli.run("eval", "--samples", samples.toString(), "--reference", refs.toString(), "--modes", centres.toString(),
                "--mode-std", "-1"), "--mode-std must be > 0");
    }

    private static double energy(String out) {
        for (String l : out.split("\n")) if (l.startsWith("energy distance: ")) return Double.parseDouble(l.substring(17).strip());
        throw new AssertionError("no energy distance in " + out);
    }

    @Test
    void sampleChecksTheGeneratorsClassCount() {
        Path g = dir.resolve("nc.pt");
        try (ScriptModule m = ScriptModule.create("NcGen")) {
            m.setAttribute("latent_shape", new long[] {2});
            m.setAttribute("num_classes", 3L);
            m.define("""
                    def forward(self, z: Tensor, class_labels: Tensor) -> Tensor:
                        return z * 0.01 + class_labels[:, :2] * 10.0
                    """);
            m.save(g);
        }
        Path o = dir.resolve("nc.npy");
        assertOneLineError(Cli.run("sample", "--generator", g.toString(), "--out", o.toString()), "give --classes 3");
        assertOneLineError(Cli.run("sample", "--generator", g.toString(), "--classes", "4", "--out", o.toString()), "disagrees");
        assertEquals(0, Cli.run("sample", "--generator", g.toString(), "--classes", "3", "--label", "1", "--n", "5", "--out", o.toString()).exitCode());
        assertTrue(Files.exists(dir.resolve("nc.labels.npy")));
    }

    // ---- help ----------------------------------------------------------------------------------------

    @Test
    void helpShowsEveryDefaultAndAnExample() {
        for (String cmd : new String[] {"sample", "teacher-sample", "eval"}) {
            Cli r = Cli.run(cmd, "--help");
            assertEquals(0, r.exitCode());
            assertTrue(r.out().matches("(?s).*Examples?:\\s+\\./diffinstruct " + cmd + " .*"), r.out());
            CommandLine sub = Main.newCommandLine().getSubcommands().get(cmd);
            for (CommandLine.Model.OptionSpec o : sub.getCommandSpec().options()) {
                if (o.defaultValue() != null)
                    assertTrue(r.out().replaceAll("\\s+", " ").contains("(default: " + o.defaultValue() + ")"), cmd + " --help should show the default of " + o.longestName());
            }
        }
    }
}
