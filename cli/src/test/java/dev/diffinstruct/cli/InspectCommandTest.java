package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {
    @TempDir
    Path dir;

    private Path pythonModule() throws Exception {
        Path pt = dir.resolve("net.pt");
        String script = """
                import sys, torch
                class Net(torch.nn.Module):
                    def __init__(self):
                        super().__init__()
                        self.lin = torch.nn.Linear(3, 4)
                        self.register_buffer("scale", torch.ones(4))
                    def forward(self, x, sigma):
                        return self.lin(x) * self.scale + sigma.reshape(-1, 1)
                torch.jit.script(Net()).save(sys.argv[1])
                """;
        // TorchScript reads the class's source, so the script must be a file, not "-c".
        Path py = Files.writeString(dir.resolve("make_net.py"), script);
        Process p = new ProcessBuilder(System.getProperty("python", "/usr/bin/python3"), py.toString(), pt.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        return pt;
    }

    @Test
    void printsMethodsParameterCountAndChecksAForward() throws Exception {
        Cli r = Cli.run("inspect", pythonModule().toString(), "--shape", "3");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("parameters: 16 in 2 tensors"), r.out());
        assertTrue(r.out().contains("lin.weight  [4, 3] float32"), r.out());
        assertTrue(r.out().contains("scale  [4] float32"), r.out());
        assertTrue(r.out().contains("forward(") && r.out().contains("Tensor sigma"), r.out());
        assertTrue(r.out().contains("--teacher-kind edm: no:") && r.out().contains("returns shape [2, 4]"), r.out());
    }

    @Test
    void reportsAForwardThatDoesNotFitTheShape() throws Exception {
        Cli r = Cli.run("inspect", pythonModule().toString(), "--shape", "5");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("--teacher-kind edm: no:") && r.out().contains("mat1 and mat2 shapes cannot be multiplied"), r.out());
    }

    @Test
    void readsAGeneratorsLatentShape() {
        Path pt = dir.resolve("gen.pt");
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.create("Gen")) {
            m.registerParameter("w", Tensor.ones(2, 2).requiresGrad(true));
            m.setAttribute("latent_shape", new long[] {2});
            m.define("def forward(self, z: Tensor) -> Tensor:\n    return z.matmul(self.w)\n");
            m.save(pt);
        }
        Cli r = Cli.run("inspect", pt.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("latent_shape: [2]"), r.out());
        assertTrue(r.out().contains("generator forward(z): ok -> [2, 2]"), r.out());
    }

    @Test
    void aDenoiserFitsTheEdmKind() {
        Path pt = dir.resolve("mixture.pt");
        try (ScriptModule m = dev.diffinstruct.trainer.diffusion.MixtureTeacher.defaultRing().toModule()) {
            m.save(pt);
        }
        Cli r = Cli.run("inspect", pt.toString(), "--shape", "2");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("--teacher-kind edm: ok fits"), r.out());
        assertTrue(r.out().contains("buffers: 3"), r.out());
    }

    @Test
    void missingFileIsOneLineAndExitCode2() {
        Cli r = Cli.run("inspect", dir.resolve("nope.pt").toString());
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
        assertTrue(r.err().contains("nope.pt") && r.err().contains("no such file"), r.err());
    }

    @Test
    void corruptFileIsOneLineAndExitCode2() throws IOException {
        Path bad = dir.resolve("bad.pt");
        Files.write(bad, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        Cli r = Cli.run("inspect", bad.toString());
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
        assertTrue(r.err().contains("bad.pt") && r.err().contains("not a valid TorchScript file"), r.err());
    }

    @Test
    void unknownCommandSuggestsTheClosest() {
        Cli r = Cli.run("inspekt", "x.pt");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Did you mean") && r.err().contains("inspect"), r.err());
    }

    @Test
    void versionNamesLibtorchAndBlas() {
        Cli r = Cli.run("--version");
        assertEquals(0, r.exitCode());
        assertTrue(r.out().contains("libtorch     1.") || r.out().contains("libtorch     2."), r.out());
        assertTrue(r.out().contains("BLAS"), r.out());
    }

    @Test
    void describesItsOwnCheckpointsAndRunFolders() throws Exception {
        Path run = dir.resolve("run");
        Cli d = Cli.run("distill", "--out", run.toString(), "--steps", "8", "--warmup-fake", "2", "--batch", "32", "--ckpt-every", "4", "-q");
        assertEquals(0, d.exitCode(), d.err());
        Cli c = Cli.run("inspect", run.resolve("checkpoints/ckpt-000000008.zip").toString());
        assertEquals(0, c.exitCode(), c.err());
        for (String s : new String[] {"a checkpoint at step 8", "skipped: 0", "\"builtin:mixture\"", "batch: 32", "generator.pt", "adam_fake.bin", "bytes"})
            assertTrue(c.out().contains(s), "'" + s + "' in " + c.out());
        Cli f = Cli.run("inspect", run.toString());
        assertEquals(0, f.exitCode(), f.err());
        for (String s : new String[] {"a run folder", "ckpt-000000004.zip", "ckpt-000000008.zip", "generator_ema.pt", "last logged: {\"step\":8"})
            assertTrue(f.out().contains(s), "'" + s + "' in " + f.out());
        Cli other = Cli.run("inspect", dir.toString());
        assertEquals(2, other.exitCode(), other.err());
        assertTrue(other.err().contains("not a run of this tool"), other.err());
    }

    @Test
    void completionScriptsKnowEveryCommandAndOption() {
        Cli b = Cli.run("completion", "bash");
        assertEquals(0, b.exitCode(), b.err());
        for (String s : new String[] {"complete -F", "distill", "train-teacher", "--nproc-per-node", "--resume", "inspect"})
            assertTrue(b.out().contains(s), "'" + s + "' in the bash script");
        assertEquals(0, Cli.run("completion", "zsh").exitCode());
        Cli bad = Cli.run("completion", "fish");
        assertEquals(2, bad.exitCode(), bad.err());
        assertTrue(bad.err().contains("bash or zsh"), bad.err());
    }
}
