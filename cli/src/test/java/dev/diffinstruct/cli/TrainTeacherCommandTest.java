package dev.diffinstruct.cli;

import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.teacher.TeacherConfig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code train-teacher}: help, a short real run whose loss falls, one-line errors and exit codes, SIGTERM + --resume. */
class TrainTeacherCommandTest {
    @TempDir
    Path dir;

    static Path repoRoot() {
        return Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    }

    static boolean haveFashionMnist() {
        Path d = ImageDataset.fashionMnistDir();
        return Files.isRegularFile(d.resolve("t10k-images-idx3-ubyte.gz")) || Files.isRegularFile(d.resolve("t10k-images-idx3-ubyte"));
    }

    /** Runs Python (torch 1.13) on a script with OMP_NUM_THREADS=1; skips the test when Python or torch is missing. */
    static String python(String... args) throws Exception {
        String py = System.getProperty("python", "/usr/bin/python3");
        Assumptions.assumeTrue(Files.isExecutable(Path.of(py)), "no Python at " + py);
        List<String> cmd = new ArrayList<>(List.of(py));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repoRoot().toFile()).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("python timed out");
        }
        Assumptions.assumeFalse(out.contains("No module named 'torch'"), "Python has no torch");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** A tiny EDM-preconditioned conv denoiser for [1, H, W] images, built in Java; NaN output when a sigma exceeds nanAbove. */
    static Path tinyConvDenoiser(Path file, double nanAbove) {
        try (ScriptModule m = ScriptModule.create("TinyConv"); Scope s = Scope.open(); Generator g = new Generator(1)) {
            m.registerParameter("w1", Tensor.randn(g, 8, 1, 3, 3).mul(0.2));
            m.registerParameter("wt", Tensor.randn(g, 8).mul(0.5));
            m.registerParameter("w2", Tensor.randn(g, 1, 8, 3, 3).mul(0.1));
            m.setAttribute("nan_above", nanAbove);
            m.define("""
                    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                        s = sigma.to(x.dtype).reshape(-1, 1, 1, 1)
                        n = torch.sqrt(s * s + 0.25)
                        h = torch.conv2d(x / n, self.w1, None, [1, 1], [1, 1]) + torch.log(s) / 4.0 * self.wt.reshape(1, -1, 1, 1)
                        out = 0.25 / (n * n) * x + s * 0.5 / n * torch.conv2d(torch.silu(h), self.w2, None, [1, 1], [1, 1])
                        if bool(sigma.max() > self.nan_above):
                            out = out * float("nan")
                        return out
                    """);
            m.save(file);
        }
        return file;
    }

    @Test
    void helpShowsEveryDefaultAndAnExample() {
        Cli r = Cli.run("train-teacher", "--help");
        assertEquals(0, r.exitCode());
        String h = r.out().replaceAll("\\s+", "");
        assertTrue(h.contains("Example:/usr/bin/python3models/export_unet.py--outunet.pt./diffinstructtrain-teacher--datafashion-mnist--modelunet.pt"), r.out());
        TeacherConfig d = new TeacherConfig();
        for (String s : new String[] {"default: " + d.data + ")", "default: " + d.classes + ")", "default: off)", "default: " + d.steps + ")",
                "default: " + d.batch + ")", "default: 1e-3)", "default: " + d.beta1 + "," + d.beta2 + ")", "default: " + d.lrWarmup + ")",
                "default: 0)", "default: " + (long) d.emaHalflife + ")", "default: " + d.emaRampup + ")", "default: " + d.sigmaData + ")",
                "default: " + d.pMean + ")", "default: " + d.pStd + ")", "default: " + d.seed + ")", "default: " + d.device + ")",
                "default: " + d.logEvery + ")", "default: " + d.ckptEvery + ")", "default: " + d.keepCheckpoints + ")"})
            assertTrue(h.contains(s.replace(" ", "")), "--help lacks '" + s + "'");
        assertEquals(1e-3, d.lr);
        assertEquals(0.0, d.gradClip);
        Cli top = Cli.run("--help");
        assertTrue(top.out().contains("train-teacher"), top.out());
    }

    @Test
    void aShortRunOnRealImagesLowersTheLossAndItsTeacherLoadsInPython() throws Exception {
        Assumptions.assumeTrue(haveFashionMnist(), "Fashion-MNIST is not installed");
        Path unet = dir.resolve("unet.pt");
        python("models/export_unet.py", "--out", unet.toString(), "--channels", "8", "--mults", "1,2", "--seed", "3");
        Path data = dir.resolve("fm384.npy");
        try (Scope s = Scope.open(); ImageDataset test = ImageDataset.load("fashion-mnist:test")) {
            Npy.write(data, test.images().slice(0, 384));
        }
        Path out = dir.resolve("run");
        Cli r = Cli.run("train-teacher", "--data", data.toString(), "--model", unet.toString(), "--out", out.toString(),
                "--steps", "100", "--batch", "32", "--lr", "2e-3", "--lr-warmup", "10", "--log-every", "1", "--ckpt-every", "50", "--threads", "1");
        assertEquals(0, r.exitCode(), r.out() + r.err());
        assertTrue(r.out().contains("step 100/100") && r.out().contains("done: 100 steps"), r.out());
        List<Double> losses = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl")))
            losses.add(JsonParser.parseString(line).getAsJsonObject().get("loss").getAsDouble());
        assertEquals(100, losses.size());
        double first = losses.subList(0, 20).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(80, 100).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(last < 0.85 * first, "mean loss of the first 20 steps " + first + ", of the last 20 " + last);

        String py = python("-c", """
                import sys, torch
                for name in ("teacher.pt", "teacher_raw.pt"):
                    m = torch.jit.load(sys.argv[1] + "/" + name)
                    assert not m.training and not m.net.training, name
                    assert list(m.data_shape) == [1, 28, 28] and m.sigma_data == 0.5 and m.label_dim == 0, name
                    x = torch.rand(4, 1, 28, 28) * 2 - 1
                    with torch.no_grad():
                        d = m(x, torch.tensor([0.01, 0.5, 2.0, 80.0]))
                    assert d.shape == x.shape and torch.isfinite(d).all(), name
                print("ok")
                """, out.toString());
        assertTrue(py.contains("ok"), py);
    }

    @Test
    void badInputIsOneLineAndExit2() throws Exception {
        Path model = tinyConvDenoiser(dir.resolve("tiny.pt"), 1e30);
        Path data = dir.resolve("d.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            Npy.write(data, Tensor.rand(g, 20, 1, 8, 8).mul(2).sub(1));
        }
        try (ScriptModule m = ScriptModule.create("OneArg"); Scope s = Scope.open()) {
            m.registerParameter("w", Tensor.ones(1));
            m.define("def forward(self, x: Tensor) -> Tensor:\n    return x * self.w\n");
            m.save(dir.resolve("onearg.pt"));
        }
        try (ScriptModule m = ScriptModule.create("Rgb"); Scope s = Scope.open()) {
            m.registerParameter("w", Tensor.ones(4, 3, 3, 3));
            m.define("def forward(self, x: Tensor, sigma: Tensor) -> Tensor:\n    return torch.conv2d(x, self.w, None, [1, 1], [1, 1])\n");
            m.save(dir.resolve("rgb.pt"));
        }
        Files.writeString(dir.resolve("junk.pt"), "junk");
        String out = dir.resolve("o").toString(), d = data.toString(), m = model.toString();
        String[][] cases = {
                {"--model", "--data", d, "--out", out},                                               // --model lacks its value
                {"--data", d, "--out", out},                                                          // no --model
                {"--data", d, "--model", m},                                                          // no --out
                {"--data", d, "--model", dir.resolve("nope.pt").toString(), "--out", out},
                {"--data", d, "--model", dir.resolve("junk.pt").toString(), "--out", out},
                {"--data", d, "--model", dir.resolve("onearg.pt").toString(), "--out", out},
                {"--data", d, "--model", dir.resolve("rgb.pt").toString(), "--out", out},
                {"--data", dir.resolve("none.npy").toString(), "--model", m, "--out", out},
                {"--data", "fashion-mnist:valid", "--model", m, "--out", out},
                {"--data", d, "--model", m, "--out", out, "--classes", "10"},
                {"--data", d, "--model", m, "--out", out, "--batch", "21"},
                {"--data", d, "--model", m, "--out", out, "--lr", "-1"},
                {"--data", d, "--model", m, "--out", out, "--betas", "0.9"},
                {"--data", d, "--model", m, "--out", out, "--p-std", "-1"},
                {"--data", d, "--model", m, "--out", out, "--threads", "0"},
                {"--data", d, "--model", m, "--out", out, "--bogus"},
                {"--data", d, "--model", m, "--out", out, "--device", "tpu"},
        };
        String[] expect = {"--model", "--model", "--out", "nope.pt", "junk.pt", "takes 1 argument", "cannot denoise images of shape [1, 8, 8]",
                "none.npy", "valid", "needs labelled data", "--batch 21", "--lr", "--betas", "--p-std", "--threads", "--bogus", "--device"};
        for (int i = 0; i < cases.length; i++) {
            List<String> args = new ArrayList<>(List.of("train-teacher"));
            args.addAll(List.of(cases[i]));
            if (!args.contains("--batch")) args.addAll(List.of("--batch", "4"));
            Cli r = Cli.run(args.toArray(String[]::new));
            assertEquals(2, r.exitCode(), String.join(" ", cases[i]) + "\n" + r.err());
            assertTrue(r.err().contains(expect[i]), "'" + expect[i] + "' not in: " + r.err());
            assertTrue(r.errLines() <= 2, "short error (an error line, maybe a hint): " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }

        // --config: values from a file, flags override them, unknown keys are refused
        Path cfg = dir.resolve("run.json");
        Files.writeString(cfg, "{\"data\": \"" + d + "\", \"model\": \"" + m + "\", \"steps\": 3, \"batch\": 4, \"log-every\": 1}");
        Cli ok = Cli.run("train-teacher", "--config", cfg.toString(), "--out", dir.resolve("c").toString(), "--steps", "4", "--quiet");
        assertEquals(0, ok.exitCode(), ok.err());
        assertEquals(4, Files.readAllLines(dir.resolve("c/metrics.jsonl")).size());
        assertFalse(ok.out().contains("step "), "--quiet: no progress lines: " + ok.out());
        Files.writeString(cfg, "{\"lr-g\": 1e-3}");
        Cli unknown = Cli.run("train-teacher", "--config", cfg.toString(), "--data", d, "--model", m, "--out", out);
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().contains("lr-g"), unknown.err());

        // a run that fails (diverges: every step non-finite) is exit 1
        Path nan = tinyConvDenoiser(dir.resolve("nan.pt"), 3.0);
        Cli diverged = Cli.run("train-teacher", "--data", d, "--model", nan.toString(), "--out", dir.resolve("n").toString(),
                "--batch", "4", "--p-mean", "3", "--p-std", "0.5", "--steps", "50", "--quiet");
        assertEquals(1, diverged.exitCode(), diverged.err());
        assertTrue(diverged.err().contains("training diverged"), diverged.err());
    }

    private static Process start(Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static long lines(Path f) throws Exception {
        return Files.exists(f) ? Files.readAllLines(f).size() : 0;
    }

    @Test
    void sigtermWritesACheckpointThatResumeContinues() throws Exception {
        Path model = tinyConvDenoiser(dir.resolve("tiny.pt"), 1e30);
        Path data = dir.resolve("d.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            Npy.write(data, Tensor.rand(g, 64, 1, 8, 8).mul(2).sub(1));
        }
        Path out = dir.resolve("run"), log = dir.resolve("log.txt");
        Process p = start(log, "train-teacher", "--data", data.toString(), "--model", model.toString(), "--out", out.toString(),
                "--batch", "16", "--steps", "10000000", "--log-every", "1", "--ckpt-every", "10000000", "--threads", "1");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (lines(out.resolve("metrics.jsonl")) < 30) {
            assertTrue(p.isAlive(), "train-teacher ended early: " + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no progress: " + Files.readString(log));
            Thread.sleep(100);
        }
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "train-teacher did not stop on SIGTERM");
        String text = Files.readString(log);
        long ckpt;
        try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
            ckpt = s.map(f -> f.getFileName().toString()).filter(n -> n.matches("ckpt-\\d+\\.zip"))
                    .mapToLong(n -> Long.parseLong(n.replaceAll("\\D", ""))).max().orElse(-1);
        }
        assertTrue(ckpt >= 30, "a checkpoint at the step reached, got " + ckpt + "\n" + text);
        assertTrue(text.contains("stopped at step " + ckpt), text);
        assertTrue(p.exitValue() == 143 || p.exitValue() == 1, "exit " + p.exitValue()); // the JVM's own code for SIGTERM wins

        Path log2 = dir.resolve("log2.txt");
        Process resumed = start(log2, "train-teacher", "--data", data.toString(), "--model", model.toString(), "--out", out.toString(),
                "--batch", "16", "--steps", String.valueOf(ckpt + 10), "--log-every", "1", "--resume", "--threads", "1");
        assertTrue(resumed.waitFor(120, TimeUnit.SECONDS), "resume did not finish");
        String text2 = Files.readString(log2);
        assertEquals(0, resumed.exitValue(), text2);
        assertTrue(text2.contains("resuming from checkpoints" + File.separator + "ckpt-") && text2.contains("at step " + ckpt), text2);
        assertFalse(text2.contains("; keeping "), text2);  // --device left at auto is no request
        assertEquals(ckpt + 10, lines(out.resolve("metrics.jsonl")));
        assertTrue(Files.exists(out.resolve("teacher.pt")));
    }
}
