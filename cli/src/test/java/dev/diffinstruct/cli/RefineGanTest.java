package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * refine with GAN-like generators against the committed Fashion-MNIST teacher: output range checked
 * (and fixed by --gen-scale/--gen-shift), batch norm frozen by default and updated with --gen-mode
 * train, a (z, labels) generator with --classes, and the refined files drop-in for Python.
 */
class RefineGanTest {
    @TempDir
    static Path dir;

    static final Path TEACHER = ImportCommandTest.REPO.resolve("assets/fashion-mnist/teacher.pt");
    static final Path TEACHER_COND = ImportCommandTest.REPO.resolve("assets/fashion-mnist/teacher-cond.pt");

    /** gan.pt (tanh, in [-1, 1]), gan01.pt (sigmoid, in [0, 1]), gan_cond.pt (forward(z, labels)): small BN generators. */
    @BeforeAll
    static void gans() throws Exception {
        // a file, not -c: torch.jit.script reads the classes' source
        java.nio.file.Files.writeString(dir.resolve("make_gans.py"), """
                import torch
                from torch import nn
                class G(nn.Module):
                    def __init__(self, out: str, classes: int = 0):
                        super().__init__()
                        self.latent_shape = [8]
                        self.fc = nn.Linear(8 + classes, 16 * 7 * 7)
                        self.bn = nn.BatchNorm1d(16 * 7 * 7)
                        self.up = nn.ConvTranspose2d(16, 1, 4, stride=4)
                        self.sigmoid = out == 'sigmoid'
                    def body(self, h):
                        x = self.up(torch.relu(self.bn(self.fc(h))).reshape(-1, 16, 7, 7))
                        return torch.sigmoid(x) if self.sigmoid else torch.tanh(x)
                    def forward(self, z):
                        return self.body(z)
                class GC(G):
                    def __init__(self):
                        super().__init__('tanh', 10)
                        self.num_classes = 10
                    def forward(self, z, class_labels):
                        return self.body(torch.cat([z, class_labels], 1))
                torch.manual_seed(0)
                for name, g in (('gan.pt', G('tanh')), ('gan01.pt', G('sigmoid')), ('gan_cond.pt', GC())):
                    g.train()
                    with torch.no_grad():  # running statistics that differ from a fresh batch norm's
                        g.bn.running_mean.normal_(0, 0.1); g.bn.running_var.uniform_(0.5, 2)
                    torch.jit.script(g.eval()).save(name)
                """);
        ImportCommandTest.pythonIn(dir, "make_gans.py");
    }

    static Cli refine(String gen, String out, Path teacher, String... more) {
        List<String> a = new ArrayList<>(List.of("refine", "--generator", dir.resolve(gen).toString(), "--teacher", teacher.toString(),
                "--out", dir.resolve(out).toString(), "--steps", "3", "--warmup-fake", "1", "--batch", "4", "-q"));
        a.addAll(List.of(more));
        return Cli.run(a.toArray(String[]::new));
    }

    static Map<String, float[]> buffers(Path module) {
        try (ScriptModule m = ScriptModule.load(module); Scope s = Scope.open()) {
            Map<String, float[]> out = new java.util.TreeMap<>();
            for (Map.Entry<String, Tensor> e : m.namedBuffers().entrySet())
                if (e.getKey().contains("running_")) out.put(e.getKey(), e.getValue().toFloatArray());
            return out;
        }
    }

    static void assertSameBuffers(Map<String, float[]> a, Map<String, float[]> b, boolean same) {
        assertEquals(a.keySet(), b.keySet());
        boolean equal = a.keySet().stream().allMatch(k -> java.util.Arrays.equals(a.get(k), b.get(k)));
        assertEquals(same, equal, "running statistics " + (same ? "should" : "should not") + " be the same");
    }

    @Test
    void aGeneratorInZeroOneIsRefusedUntilMapped() {
        Cli r = refine("gan01.pt", "r01", TEACHER);
        assertEquals(Main.EXIT_USAGE, r.exitCode(), r.toString());
        assertTrue(r.err().contains("[0, 1]") && r.err().contains("--gen-scale"), r.err());
        assertFalse(dir.resolve("r01").toFile().exists(), "a failed start leaves no --out folder");
        Cli ok = refine("gan01.pt", "r01", TEACHER, "--gen-scale", "2", "--gen-shift", "-1");
        assertEquals(0, ok.exitCode(), ok.toString());
        try (ScriptModule g = ScriptModule.load(dir.resolve("r01/generator.pt"))) {
            assertEquals(2.0, g.getDouble("scale"));
            assertTrue(g.hasMethod("forward"));
        }
    }

    @Test
    void batchNormIsFrozenByDefaultAndUpdatedInTrainMode() {
        Map<String, float[]> before = buffers(dir.resolve("gan.pt"));
        Cli frozen = refine("gan.pt", "frozen", TEACHER);
        assertEquals(0, frozen.exitCode(), frozen.toString());
        assertSameBuffers(before, buffers(dir.resolve("frozen/generator.pt")), true);
        Cli train = refine("gan.pt", "batchstats", TEACHER, "--gen-mode", "train", "--ema-halflife", "100");
        assertEquals(0, train.exitCode(), train.toString());
        Map<String, float[]> after = buffers(dir.resolve("batchstats/generator.pt"));
        assertSameBuffers(before, after, false);
        assertSameBuffers(after, buffers(dir.resolve("batchstats/generator_ema.pt")), true); // copied into the average
    }

    /** The refined files load in Python like the GAN: same call, output shape and dtype, same latent_shape. */
    @Test
    void conditionalAndDropIn() throws Exception {
        Cli r = refine("gan_cond.pt", "cond", TEACHER_COND, "--classes", "10");
        assertEquals(0, r.exitCode(), r.toString());
        Cli u = refine("gan.pt", "uncond", TEACHER);
        assertEquals(0, u.exitCode(), u.toString());
        String out = ImportCommandTest.pythonIn(dir, "-c", """
                import torch
                for old, new, c in (('gan.pt', 'uncond/generator.pt', 0), ('gan_cond.pt', 'cond/generator_ema.pt', 10)):
                    a, b = torch.jit.load(old).eval(), torch.jit.load(new).eval()
                    z = torch.randn(3, *a.latent_shape)
                    args = (z, torch.eye(10)[[0, 4, 9]]) if c else (z,)
                    x, y = a(*args), b(*args)
                    print(list(a.latent_shape) == list(b.latent_shape), tuple(x.shape) == tuple(y.shape), x.dtype == y.dtype,
                          bool((x - y).abs().max() > 0))
                """);
        assertEquals("True True True True\nTrue True True True", out.strip());
    }
}
