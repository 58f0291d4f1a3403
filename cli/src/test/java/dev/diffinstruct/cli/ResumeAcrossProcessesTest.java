package dev.diffinstruct.cli;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Resume across processes, as a user runs it: teacher, generator and fake score given as
 * TorchScript files written by PyTorch, several fake-score steps per iteration, resumes before and
 * after the fake-score warm-up, and runs killed with SIGKILL at random moments. Every resumed run
 * must end with the straight run's bits. (In one JVM this cannot be seen: a module's results
 * could depend on how often it ran before in the process, which only a new process resets.)
 * {@code -Dreliability.kills=50} runs the kill test 50 times (scripts/reliability.sh); the
 * default is 4.
 */
class ResumeAcrossProcessesTest {
    @TempDir
    static Path dir;
    static Path teacher, generator, fake;

    static final String NETS = """
            import sys, torch, torch.nn as nn
            from typing import List
            torch.manual_seed(0)
            class Den(nn.Module):
                def __init__(s):
                    super().__init__()
                    s.net = nn.Sequential(nn.Linear(3, 48), nn.SiLU(), nn.Linear(48, 48), nn.SiLU(), nn.Linear(48, 2))
                def forward(s, x, sigma):
                    sd = 0.5
                    sig = sigma.reshape(-1, 1)
                    c_in = 1 / (sig ** 2 + sd ** 2).sqrt()
                    out = s.net(torch.cat([c_in * x, sig.log() / 4], 1))
                    return sd ** 2 / (sig ** 2 + sd ** 2) * x + sig * sd * c_in * out
            class Gen(nn.Module):
                latent_shape: List[int]
                def __init__(s):
                    super().__init__()
                    s.latent_shape = [2]
                    s.net = nn.Sequential(nn.Linear(2, 48), nn.SiLU(), nn.Linear(48, 48), nn.SiLU(), nn.Linear(48, 2))
                def forward(s, z):
                    return s.net(z)
            torch.jit.script(Den()).save(sys.argv[1])
            torch.jit.script(Gen()).save(sys.argv[2])
            torch.jit.script(Den()).save(sys.argv[3])
            """;

    @BeforeAll
    static void networks() throws Exception {
        teacher = dir.resolve("teacher.pt");
        generator = dir.resolve("gen.pt");
        fake = dir.resolve("fake.pt");
        DistillCommandTest.python(NETS, teacher.toString(), generator.toString(), fake.toString());
    }

    private static List<String> distill(Path out, long steps, boolean resume) {
        List<String> a = new ArrayList<>(List.of("distill", "--teacher", teacher.toString(), "--teacher-kind", "edm",
                "--generator", generator.toString(), "--fake", fake.toString(), "--latent-dim", "2",
                "--fake-steps", "3", "--warmup-fake", "40", "--batch", "64", "--lr-g", "1e-3", "--lr-f", "1e-3",
                "--ckpt-every", "10", "--log-every", "10", "--seed", "5", "--threads", "1", "-q",
                "--out", out.toString(), "--steps", String.valueOf(steps)));
        if (resume) a.add("--resume=auto"); // a kill may land before the first checkpoint: then it starts afresh
        return a;
    }

    private static Process start(Path log, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static void runToEnd(List<String> args) throws Exception {
        Path log = Files.createTempFile(dir, "log", ".txt");
        Process p = start(log, args);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "distill did not finish: " + Files.readString(log));
        assertEquals(0, p.exitValue(), Files.readString(log));
    }

    /** The raw bits of every parameter of the three written networks, and the last metrics line. */
    private static List<int[]> bits(Path out) throws Exception {
        List<int[]> all = new ArrayList<>();
        for (String f : new String[] {"generator.pt", "generator_ema.pt", "fake_score.pt"}) {
            try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(out.resolve(f))) {
                for (Tensor t : m.parameters()) {
                    float[] v = t.toFloatArray();
                    int[] b = new int[v.length];
                    for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
                    all.add(b);
                }
            }
        }
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        String last = lines.get(lines.size() - 1).replaceAll(",\"steps_per_s\".*", ""); // timing fields differ
        all.add(last.chars().toArray());
        return all;
    }

    private static void assertSameBits(List<int[]> expected, List<int[]> got, String what) {
        assertEquals(expected.size(), got.size(), what);
        for (int i = 0; i < expected.size(); i++)
            assertArrayEquals(expected.get(i), got.get(i), what + ": tensor " + i + " (of generator, EMA, fake score; last: metrics) differs");
    }

    private static List<int[]> reference;

    private static synchronized List<int[]> straight() throws Exception {
        if (reference == null) {
            Path out = dir.resolve("straight");
            runToEnd(distill(out, 120, false));
            reference = bits(out);
        }
        return reference;
    }

    @Test
    void resumesBeforeAndAfterTheFakeWarmUpEndBitIdentical() throws Exception {
        List<int[]> ref = straight();
        for (long first : new long[] {20, 70}) { // warm-up ends at 40
            Path out = dir.resolve("resumed-" + first);
            runToEnd(distill(out, first, false));
            runToEnd(distill(out, 120, true));
            assertSameBits(ref, bits(out), "resumed at step " + first);
        }
        // the check can fail: a run with another seed differs
        Path other = dir.resolve("other-seed");
        List<String> a = distill(other, 120, false);
        a.set(a.indexOf("--seed") + 1, "6");
        runToEnd(a);
        assertFalse(Arrays.equals(ref.get(0), bits(other).get(0)));
    }

    @Test
    void killedAtRandomMomentsEveryRunResumesToTheStraightRunsBits() throws Exception {
        List<int[]> ref = straight();
        int kills = Integer.getInteger("reliability.kills", 4);
        Random rnd = new Random(Long.getLong("reliability.seed", 11));
        int beforeCheckpoint = 0, midRun = 0, finished = 0;
        for (int i = 0; i < kills; i++) {
            Path out = dir.resolve("killed-" + i), log = dir.resolve("killed-" + i + ".txt");
            Process p = start(log, distill(out, 120, false));
            // start-up takes ~1 s, the 120 steps about as long again: kill anywhere in either
            Thread.sleep(300 + rnd.nextInt(2700));
            boolean alive = p.isAlive();
            p.destroyForcibly(); // SIGKILL: no hook, no checkpoint on the way out
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            if (!alive) finished++;
            else if (Files.exists(out.resolve("generator.pt"))) midRun++; // written with every checkpoint
            else beforeCheckpoint++;
            runToEnd(distill(out, 120, true));
            assertSameBits(ref, bits(out), "run " + i + " killed and resumed (" + Files.readString(log).strip() + ")");
            try (var s = Files.list(out.resolve("checkpoints"))) {
                assertTrue(s.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "a resumed run removes temporary files");
            }
        }
        System.out.printf("ResumeAcrossProcessesTest: %d kills (%d before the first checkpoint, %d between checkpoints, %d after the"
                + " run had ended), all resumed bit-identically%n", kills, beforeCheckpoint, midRun, finished);
    }
}
