package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.Adam;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Teachers;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Python-made image models (models/*.py, assets/fashion-mnist/features.pt) run from Java. */
class ImageModelsTest {
    @TempDir
    Path dir;

    static Path repoRoot() {
        return Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    }

    /** Runs models/&lt;script&gt; with the test's Python; skips the test when Python or torch is missing. */
    static String python(String... args) throws IOException, InterruptedException {
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

    @Test
    void featureNetworkGivesFeaturesAndOver90PercentOnTheTestSplit() {
        Path features = repoRoot().resolve("assets/fashion-mnist/features.pt");
        Assumptions.assumeTrue(Files.isRegularFile(features), "no " + features);
        Assumptions.assumeTrue(ImageDatasetTest.haveFashionMnist(), "Fashion-MNIST is not installed");
        try (Scope s = Scope.open(); ScriptModule net = ScriptModule.load(features); var ng = Torch.noGrad()) {
            assertTrue(!net.isTraining(), "the feature network is saved in eval mode");
            ImageDataset test = ImageDataset.load("fashion-mnist:test");
            long correct = 0;
            for (long i = 0; i < test.size(); i += 1000) {
                try (Scope b = Scope.open()) {
                    Tensor x = test.images().slice(i, i + 1000);
                    if (i == 0) {
                        Tensor f = net.forward(x);
                        assertArrayEquals(new long[] {1000, 128}, f.shape());
                        assertTrue(f.allFinite());
                        assertTrue(f.min().item() >= 0, "post-ReLU features");
                    }
                    Tensor pred = net.runOne("logits", x).argmax(1, false);
                    correct += (long) pred.eq(test.labels().slice(i, i + 1000)).sum().item();
                }
            }
            double acc = correct / (double) test.size();
            assertTrue(acc >= 0.90, "test accuracy " + acc);
        }
    }

    @Test
    void exportedUnetRunsAndTrainsInJavaAndMatchesPython() throws Exception {
        Path uncond = dir.resolve("u.pt"), cond = dir.resolve("c.pt");
        python("models/export_unet.py", "--out", uncond.toString(), "--seed", "1");
        python("models/export_unet.py", "--out", cond.toString(), "--seed", "2", "--classes", "10");
        Path xf = dir.resolve("x.npy"), sf = dir.resolve("s.npy"), out = dir.resolve("d.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(0);
             ScriptModule u = ScriptModule.load(uncond); ScriptModule c = ScriptModule.load(cond)) {
            assertTrue(u.methods().stream().anyMatch(m -> m.contains("forward(") && m.endsWith("Tensor x, Tensor sigma) -> Tensor")), u.methods().toString());
            assertTrue(c.methods().stream().anyMatch(m -> m.endsWith("Tensor x, Tensor sigma, Tensor class_labels) -> Tensor")), c.methods().toString());
            assertEquals(0.5, u.getDouble("sigma_data"));
            long params = u.parameterCount();
            assertTrue(params > 300_000 && params < 1_500_000, "parameters " + params);

            Tensor x = Tensor.rand(g, 4, 1, 28, 28).mul(2).sub(1);
            Tensor sigma = Tensor.of(0.002f, 0.3f, 2f, 80f);
            Npy.write(xf, x);
            Npy.write(sf, sigma);
            Tensor d;
            try (var ng = Torch.noGrad()) {
                d = u.forward(x, sigma);
                Tensor y = Tensor.of(new long[] {0, 3, 9, 5}, 4).oneHot(10).to(dev.diffinstruct.torch.DType.FLOAT32);
                assertArrayEquals(new long[] {4, 1, 28, 28}, c.forward(x, sigma, y).shape());
            }
            assertArrayEquals(new long[] {4, 1, 28, 28}, d.shape());
            // at sigma = 0.002, D(x) is (almost) x: c_skip = 1, c_out = sigma * 0.5 / ~0.5
            assertTrue(d.get(0).sub(x.get(0)).abs().max().item() < 0.01);

            python("-c", """
                    import sys, numpy as np, torch
                    m = torch.jit.load(sys.argv[1])
                    x = torch.from_numpy(np.load(sys.argv[2])); s = torch.from_numpy(np.load(sys.argv[3]))
                    with torch.no_grad():
                        np.save(sys.argv[4], m(x, s).numpy())
                    """, uncond.toString(), xf.toString(), sf.toString(), out.toString());
            // float32 through a UNet in two programs; loose enough for any CPU / BLAS (conv_out starts at zero, so here D = c_skip x)
            assertTrue(d.allClose(Npy.read(out), 1e-4, 1e-5), "Java and Python agree on D(x, sigma)");

            // both load as --teacher-kind edm teachers (unconditional and with 10 classes)
            for (var spec : List.of(TeacherSpec.of(TeacherKind.EDM), TeacherSpec.of(TeacherKind.EDM).withClasses(10))) {
                Path file = spec.conditional() ? cond : uncond;
                try (ScriptModule teacher = Teachers.load(file, spec, Device.CPU)) {
                    Teachers.check(teacher, spec, new long[] {1, 28, 28}, Device.CPU, file.getFileName().toString());
                }
            }

            // one EDM training step in Java: every parameter gets a gradient, the loss is finite
            try (ScriptModule t = u.trainableCopy(); Adam opt = new Adam(t.parameters(), Adam.Options.lr(1e-3))) {
                t.train(true);
                Tensor w = sigma.square().add(0.25).div(sigma.mul(0.5).square()).reshape(-1, 1, 1, 1);
                Tensor noisy = x.add(x.randnLike(g).mul(sigma.reshape(-1, 1, 1, 1)));
                Tensor loss = t.forward(noisy, sigma).sub(x).square().mul(w).mean();
                loss.backward();
                assertTrue(Double.isFinite(loss.item()));
                for (Tensor p : t.parameters()) assertTrue(p.grad() != null, "every parameter has a gradient");
                opt.step();
            }
        }
    }
}
