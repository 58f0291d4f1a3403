package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.distill.DistillConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class DistillCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpShowsEveryDefaultAndAnExample() {
        DistillConfig d = new DistillConfig(), m = DistillConfig.mixtureDefaults();
        for (String cmd : new String[] {"distill", "refine"}) {
            Cli r = Cli.run(cmd, "--help");
            assertEquals(0, r.exitCode());
            String h = r.out().replaceAll("\\s+", "");
            assertTrue(h.contains("Examples:./diffinstruct" + cmd), h);
            for (String s : new String[] {"default: " + fmt(d.lrG) + "; builtin:mixture: " + fmt(m.lrG),
                    "default: " + fmt(d.lrF) + "; builtin:mixture: " + fmt(m.lrF), "default: " + d.steps + "; builtin:mixture: " + m.steps + ")", "default: " + d.batch + ")",
                    "default: " + d.fakeSteps + "; builtin:mixture: " + m.fakeSteps, "default: " + d.warmupFake + "; builtin:mixture: " + m.warmupFake,
                    "default: " + d.pMean + "; builtin:mixture: " + m.pMean, "default: " + d.pStd + "; builtin:mixture: " + m.pStd,
                    "default: " + d.initSigma + ";", "default: " + d.sidAlpha + ")", "default: " + d.sigmaData + ")", "default: " + d.hidden + ")",
                    "default: " + d.layers + ")", "default: " + d.logEvery + ")", "default: " + d.ckptEvery + ")", "default: " + d.keepCheckpoints + ")",
                    "default: 0,0.999)", "default: 0)", "default: 0; builtin:mixture: 20000)", "default: sigma2)", "default: lognormal)",
                    "default: edm)", "default: auto)", "default: 0.002)", "default: 80)"})
                assertTrue(h.contains(s.replace(" ", "")), cmd + " --help lacks '" + s + "'");
        }
        assertEquals(0.0, d.beta1);
        assertEquals(0.999, d.beta2);
        assertEquals(0.0, d.gradClip);
        assertEquals(0L, d.seed);
        assertEquals(20000.0, m.emaHalflife);
    }

    private static String fmt(double v) {
        return String.format("%.0e", v).replace("e-0", "e-");
    }

    @Test
    void distillTheMixtureAndLoadTheOutputsInPython() throws Exception {
        Path out = dir.resolve("run");
        Cli r = Cli.run("distill", "--out", out.toString(), "--steps", "60", "--warmup-fake", "10", "--batch", "64", "--hidden", "32",
                "--log-every", "20", "--ckpt-every", "30");
        assertEquals(0, r.exitCode(), r.out() + r.err());
        assertTrue(r.out().contains("step 60/60"), r.out());
        assertTrue(r.out().contains("modes covered"), r.out());
        for (String f : new String[] {"generator.pt", "generator_ema.pt", "fake_score.pt", "metrics.jsonl", "config.json", "checkpoints/ckpt-000000060.zip"})
            assertTrue(Files.exists(out.resolve(f)), f);
        assertEquals(4, Files.readAllLines(out.resolve("metrics.jsonl")).size()); // steps 1, 20, 40, 60
        String cfg = Files.readString(out.resolve("config.json"));
        assertTrue(cfg.contains("\"steps\": 60") && cfg.contains("builtin:mixture"), cfg);

        String py = python("""
                import sys, torch
                for f in ("generator.pt", "generator_ema.pt"):
                    g = torch.jit.load(sys.argv[1] + "/" + f)
                    z = torch.randn(5, *list(g.latent_shape))
                    print(f, tuple(g(z).shape))
                """, out.toString());
        assertEquals("generator.pt (5, 2)\ngenerator_ema.pt (5, 2)", py.strip());

        // resume with more steps continues from the last checkpoint
        Cli more = Cli.run("distill", "--out", out.toString(), "--steps", "80", "--warmup-fake", "10", "--batch", "64", "--hidden", "32",
                "--log-every", "20", "--ckpt-every", "30", "--resume");
        assertEquals(0, more.exitCode(), more.out() + more.err());
        assertTrue(more.err().contains("resuming from checkpoints/ckpt-000000060.zip at step 60 of 80"), more.err());
        assertTrue(more.out().contains("step 80/80"), more.out());
        assertTrue(more.out().contains("done: step 80; this run's 20 steps (resumed at 60) in "), more.out()); // not 80 steps in this run's time
        // options left out are not requests: a resume reports only given options that differ
        Cli bare = Cli.run("distill", "--out", out.toString(), "--steps", "90", "--ckpt-every", "30", "--resume");
        assertEquals(0, bare.exitCode(), bare.out() + bare.err());
        assertFalse(bare.err().contains("; keeping "), bare.err());
        Cli asked = Cli.run("distill", "--out", out.toString(), "--steps", "100", "--batch", "32", "--ckpt-every", "30", "--resume");
        assertEquals(0, asked.exitCode(), asked.out() + asked.err());
        assertTrue(asked.err().matches("(?s).*resuming: --batch: checkpoint \\d+, given 32; keeping \\d+ .*"), asked.err());
        assertFalse(asked.err().contains("--hidden"), asked.err());
        // options from a --config file are requests too
        Path conf = dir.resolve("resume.json");
        Files.writeString(conf, "{\"hidden\": 16}");
        Cli fromFile = Cli.run("distill", "--out", out.toString(), "--steps", "100", "--config", conf.toString(), "--resume");
        assertEquals(0, fromFile.exitCode(), fromFile.out() + fromFile.err());
        assertTrue(fromFile.err().contains("resuming: --hidden: checkpoint "), fromFile.err());
        assertTrue(fromFile.err().contains(", given 16; keeping "), fromFile.err());
        assertFalse(fromFile.err().contains("--batch:"), fromFile.err());
        // a --steps the run has passed: said plainly, and nothing trains
        Cli behind = Cli.run("distill", "--out", out.toString(), "--steps", "20", "--resume");
        assertEquals(0, behind.exitCode(), behind.out() + behind.err());
        assertTrue(behind.err().contains("at step 100: the run is already at --steps 20 or beyond, nothing is left to train"), behind.err());

        // refine the distilled generator (its latent_shape attribute gives the latent shape)
        Cli ref = Cli.run("refine", "--generator", out.resolve("generator.pt").toString(), "--fake", out.resolve("fake_score.pt").toString(),
                "--out", dir.resolve("refined").toString(), "--steps", "20", "--warmup-fake", "0", "--batch", "64", "--log-every", "10");
        assertEquals(0, ref.exitCode(), ref.out() + ref.err());
        assertTrue(Files.exists(dir.resolve("refined/generator.pt")));
    }

    @Test
    void fileErrorsAreSaidInWordsNotJavaClassNames() throws Exception {
        Path file = Files.writeString(dir.resolve("notes.txt"), "not a folder");
        Cli c = Cli.run("distill", "--out", file.toString(), "--steps", "3");
        assertEquals(Main.EXIT_USAGE, c.exitCode(), c.err());
        assertTrue(c.err().contains("--out " + file + " is not a writable folder (" + file + ": already exists)"), c.err());
        assertFalse(c.err().contains("Exception"), c.err());
        // a failed start leaves no empty --out behind (one that was there before stays)
        Path fresh = dir.resolve("never-made");
        Path bad = Files.writeString(dir.resolve("bad.pt"), "not TorchScript");
        Cli failed = Cli.run("distill", "--teacher", bad.toString(), "--out", fresh.toString(), "--steps", "3");
        assertEquals(Main.EXIT_USAGE, failed.exitCode(), failed.err());
        assertFalse(Files.exists(fresh), "a failed start left " + fresh);
        Path kept = Files.createDirectories(dir.resolve("was-there"));
        Cli.run("distill", "--teacher", bad.toString(), "--out", kept.toString(), "--steps", "3");
        assertTrue(Files.isDirectory(kept), "a folder the user had is kept");
        assertEquals("x.pt: no such file or folder", Main.oneLine(new java.io.UncheckedIOException(new java.nio.file.NoSuchFileException("x.pt"))));
    }

    @Test
    void warmUpIsShownAsSuchAndStepsThatNeverReachTheGeneratorWarn() {
        Cli c = Cli.run("distill", "--steps", "6", "--warmup-fake", "200", "--log-every", "2", "--out", dir.resolve("w").toString());
        assertEquals(0, c.exitCode(), c.err());
        assertTrue(c.err().contains("warning: --steps 6 ends within the fake score's warm-up (--warmup-fake 200)"), c.err());
        assertTrue(c.out().contains("warm-up 6/200") && c.out().contains("loss_f"), c.out());
        assertFalse(c.out().contains("NaN"), "no NaN for figures not computed yet: " + c.out());
        Cli past = Cli.run("distill", "--steps", "12", "--warmup-fake", "10", "--log-every", "2", "--out", dir.resolve("p").toString());
        assertEquals(0, past.exitCode(), past.err());
        assertFalse(past.err().contains("warning"), past.err());
        assertTrue(past.out().contains("loss_g") && past.out().contains("|grad_g|"), past.out());
    }

    @Test
    void resumeWithoutACheckpointIsAnErrorUnlessAuto() throws Exception {
        // a mistyped --out with --resume must not train something else and succeed
        Path typo = dir.resolve("rnu");
        Cli strict = Cli.run("distill", "--out", typo.toString(), "--steps", "40", "--resume");
        SamplingCommandsTest.assertOneLineError(strict, "--resume: no checkpoint in " + typo.resolve("checkpoints"));
        assertTrue(strict.err().contains("--resume=auto"), strict.err());
        assertFalse(Files.exists(typo), "nothing written for a refused --resume");
        Cli teacher = Cli.run("train-teacher", "--model", "unused.pt", "--out", typo.toString(), "--steps", "5", "--resume");
        SamplingCommandsTest.assertOneLineError(teacher, "--resume: no checkpoint in");
        assertFalse(Files.exists(typo));
        // --resume=auto: resume if there is a checkpoint, else start fresh (job schedulers rerun one command)
        Path auto = dir.resolve("auto");
        Cli fresh = Cli.run("distill", "--out", auto.toString(), "--steps", "20", "--warmup-fake", "5", "--batch", "32", "--hidden", "16",
                "--ckpt-every", "10", "--resume=auto", "-q");
        assertEquals(0, fresh.exitCode(), fresh.err());
        assertTrue(fresh.err().contains("starting a fresh run"), fresh.err());
        Cli again = Cli.run("distill", "--out", auto.toString(), "--steps", "30", "--ckpt-every", "10", "--resume=auto", "-q");
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.err().contains("resuming from checkpoints/ckpt-000000020.zip at step 20 of 30"), again.err());
        SamplingCommandsTest.assertUsageError(Cli.run("distill", "--out", auto.toString(), "--resume=maybe"), "--resume");
    }

    @Test
    void badInputExitsWithTwoAndOneLine() throws Exception {
        Path t = dir.resolve("bad-teacher.pt");
        try (ScriptModule m = ScriptModule.create("Bad")) {
            m.define("""
                    def forward(self, x: Tensor) -> Tensor:
                        return x
                    """);
            m.save(t);
        }
        Cli r = Cli.run("distill", "--teacher", t.toString(), "--data-shape", "2", "--out", dir.resolve("x").toString());
        assertEquals(2, r.exitCode(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("forward(x, sigma) fails"), r.err());

        Cli missing = Cli.run("distill", "--teacher", dir.resolve("none.pt").toString(), "--out", dir.resolve("y").toString());
        assertEquals(2, missing.exitCode(), missing.err());

        Cli noGen = Cli.run("refine", "--out", dir.resolve("z").toString());
        assertEquals(2, noGen.exitCode());
        assertTrue(noGen.err().contains("--generator"), noGen.err());

        Cli badOpt = Cli.run("distill", "--out", dir.resolve("w").toString(), "--lr-g", "-1");
        assertEquals(2, badOpt.exitCode());
        assertTrue(badOpt.err().contains("--lr-g"), badOpt.err());

        Cli betas = Cli.run("distill", "--out", dir.resolve("v").toString(), "--betas", "0.9");
        assertEquals(2, betas.exitCode());
    }

    /** A class-conditional 8-mode ring teacher file: class c is components 2c and 2c+1. */
    private Path conditionalRing() {
        double[][] w = new double[4][8];
        for (int c = 0; c < 4; c++) w[c][2 * c] = w[c][2 * c + 1] = 0.5;
        Path t = dir.resolve("cond-ring.pt");
        try (ScriptModule m = MixtureTeacher.defaultRing().toConditionalModule(w)) {
            m.save(t);
        }
        return t;
    }

    @Test
    void classConditionalDistillThenSampleOneClass() throws Exception {
        Path t = conditionalRing(), out = dir.resolve("cond");
        Cli r = Cli.run("distill", "--teacher", t.toString(), "--classes", "4", "--out", out.toString(), "--steps", "300", "--batch", "128",
                "--hidden", "64", "--lr-g", "1e-3", "--lr-f", "2e-3", "--fake-steps", "2", "--warmup-fake", "50", "--p-mean", "-2",
                "--p-std", "1.5", "--ema-halflife", "5000", "--log-every", "100", "--snapshot-every", "150");
        assertEquals(0, r.exitCode(), r.out() + r.err());
        try (var snaps = Files.list(out.resolve("snapshots"))) {
            assertTrue(snaps.count() >= 1, "snapshots of a conditional run (every class in turn)");
        }
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"classes\": 4"));

        Path x = dir.resolve("class1.npy");
        Cli s = Cli.run("sample", "--generator", out.resolve("generator_ema.pt").toString(), "--classes", "4", "--label", "1", "--n", "400",
                "--out", x.toString());
        assertEquals(0, s.exitCode(), s.out() + s.err());
        assertTrue(s.out().contains("class1.labels.npy"), s.out());
        try (Scope sc = Scope.open()) {
            long[] labels = Npy.read(dir.resolve("class1.labels.npy")).toLongArray();
            assertEquals(400, labels.length);
            for (long l : labels) assertEquals(1, l);
            long[] modes = MixtureTeacher.defaultRing().nearestMode(Npy.read(x)).toLongArray();
            long on = java.util.Arrays.stream(modes).filter(m -> m == 2 || m == 3).count();
            System.out.println("CLI conditional distill, 300 steps: class 1 samples on its components " + on + "/400 (chance 100)");
            assertTrue(on > 320, on + "/400");
        }
        // in Python: forward(z, class_labels), latent_shape and num_classes
        String py = python("""
                import sys, torch
                g = torch.jit.load(sys.argv[1])
                z = torch.randn(3, *list(g.latent_shape))
                print(g.num_classes, tuple(g(z, torch.eye(4)[:3]).shape))
                """, out.resolve("generator.pt").toString());
        assertEquals("4 (3, 2)", py.strip());

        Cli noClasses = Cli.run("sample", "--generator", out.resolve("generator.pt").toString(), "--n", "10", "--out", dir.resolve("n.npy").toString());
        assertEquals(2, noClasses.exitCode());
        assertTrue(noClasses.err().contains("give --classes 4"), noClasses.err());

        // the teacher and --classes must agree
        Path ring = dir.resolve("ring.pt");
        try (ScriptModule m = MixtureTeacher.defaultRing().toModule()) {
            m.save(ring);
        }
        Cli a = Cli.run("distill", "--teacher", ring.toString(), "--data-shape", "2", "--classes", "4", "--out", dir.resolve("c1").toString());
        assertEquals(2, a.exitCode(), a.err());
        assertEquals(1, a.err().strip().lines().count(), a.err());
        assertTrue(a.err().contains("drop --classes"), a.err());
        Cli b = Cli.run("distill", "--teacher", t.toString(), "--out", dir.resolve("c2").toString());
        assertEquals(2, b.exitCode(), b.err());
        assertTrue(b.err().contains("give --classes 4"), b.err());
    }

    @Test
    void scheduleFlagsAreStoredInTheConfig() throws Exception {
        Path out = dir.resolve("sched");
        Cli r = Cli.run("distill", "--out", out.toString(), "--steps", "2", "--batch", "8", "--hidden", "8", "--warmup-fake", "0",
                "--beta-min", "0.05", "--beta-max", "15", "--time-scale", "999", "--schedule", "cosine", "--ddpm-steps", "500");
        assertEquals(0, r.exitCode(), r.out() + r.err());
        String cfg = Files.readString(out.resolve("config.json"));
        for (String s : new String[] {"\"betaMin\": 0.05", "\"betaMax\": 15.0", "\"timeScale\": 999.0", "\"schedule\": \"cosine\"", "\"ddpmSteps\": 500"})
            assertTrue(cfg.contains(s), s + " in " + cfg);
        Cli bad = Cli.run("distill", "--out", dir.resolve("s2").toString(), "--schedule", "sqrt");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("--schedule"), bad.err());
        Cli bad2 = Cli.run("distill", "--out", dir.resolve("s3").toString(), "--beta-min", "30");
        assertEquals(2, bad2.exitCode());
        assertTrue(bad2.err().contains("--beta-min"), bad2.err());
    }

    static String python(String source, String... args) throws Exception {
        Path f = Files.createTempFile("di-cli", ".py");
        Files.writeString(f, source);
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("python", "/usr/bin/python3"), f.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
