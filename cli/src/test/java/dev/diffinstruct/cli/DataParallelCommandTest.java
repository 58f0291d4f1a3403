package dev.diffinstruct.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ProcessGroup;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code distill --nproc-per-node 2}: real worker processes over Gloo on loopback, as a user runs them. */
class DataParallelCommandTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void needsGloo() {
        assumeFalse(ProcessGroup.backends().isEmpty(), "this shim was built without Gloo");
    }

    private static List<String> distill(Path out, long steps, String... more) {
        List<String> a = new ArrayList<>(List.of("distill", "--nproc-per-node", "2", "--steps", String.valueOf(steps),
                "--batch", "128", "--warmup-fake", "20", "--log-every", "10", "--ckpt-every", "50", "--threads", "1", "-q",
                "--out", out.toString()));
        a.addAll(List.of(more));
        return a;
    }

    private Process start(Path log, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static boolean hasEntry(Path zip, String name) throws Exception {
        try (ZipFile z = new ZipFile(zip.toFile())) {
            return z.getEntry(name) != null;
        }
    }

    @Test
    void twoWorkersTrainOneRunThatRankZeroWrites() throws Exception {
        Path out = dir.resolve("run"), log = dir.resolve("log.txt");
        Process p = start(log, distill(out, 60));
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "did not finish: " + Files.readString(log));
        String text = Files.readString(log);
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("data-parallel: 2 processes, 64 samples each of --batch 128"), text);
        assertTrue(text.contains("generator.pt    : modes covered"), "rank 0's summary: " + text);
        assertTrue(text.lines().noneMatch(l -> l.startsWith("[rank 1]")), "rank 1 is quiet: " + text);
        // one writer: every logged step once in metrics.jsonl, and every rank's RNG state in the checkpoint
        List<String> steps = Files.readAllLines(out.resolve("metrics.jsonl")).stream().map(l -> l.replaceAll(",.*", "")).toList();
        assertEquals(steps.stream().distinct().count(), steps.size(), steps.toString());
        assertEquals(7, steps.size(), steps.toString()); // steps 1, 10, ..., 60
        Path ckpt = out.resolve("checkpoints/ckpt-000000060.zip");
        assertTrue(hasEntry(ckpt, "rng.rank1.bin") && hasEntry(ckpt, "torch_rng.rank1.bin"), "rank 1's states in " + ckpt);
        assertTrue(Files.readString(out.resolve("config.json"), StandardCharsets.UTF_8).contains("\"batch\": 128"));
    }

    @Test
    void aKilledWorkerStopsTheOthersWithAnErrorNamingItAndTheRunResumes() throws Exception {
        Path out = dir.resolve("run"), log = dir.resolve("log.txt");
        Process p = start(log, distill(out, 1_000_000));
        Path first = out.resolve("checkpoints/ckpt-000000100.zip");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (!Files.exists(first) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(100);
        assertTrue(Files.exists(first), "no checkpoint: " + Files.readString(log));
        Optional<ProcessHandle> rank1 = p.toHandle().children().filter(c -> environ(c).contains("RANK=1\0")).findFirst();
        assertTrue(rank1.isPresent(), "rank 1's process");
        long killedAt = System.nanoTime();
        rank1.get().destroyForcibly(); // SIGKILL: no chance to say goodbye
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the launcher did not end: " + Files.readString(log));
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        String text = Files.readString(log);
        assertNotEquals(0, p.exitValue(), text);
        assertTrue(text.contains("rank 1 exited with code 137 (signal 9)"), text);
        assertTrue(text.contains("lost rank 1"), "rank 0 names the lost rank: " + text);
        assertTrue(seconds < 60, "took " + seconds + " s");

        // the checkpoint written before the kill resumes, on two workers again
        Process r = start(log, distill(out, 300, "--resume"));
        assertTrue(r.waitFor(300, TimeUnit.SECONDS), "resume did not finish: " + Files.readString(log));
        String resumed = Files.readString(log);
        assertEquals(0, r.exitValue(), resumed);
        assertTrue(resumed.contains("resuming from checkpoints/ckpt-"), resumed);
        assertTrue(Files.exists(out.resolve("checkpoints/ckpt-000000300.zip")), resumed);
    }

    private static String environ(ProcessHandle h) {
        try {
            return Files.readString(Path.of("/proc/" + h.pid() + "/environ"), StandardCharsets.ISO_8859_1);
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void launchErrorsAreOneLine() {
        Cli c = Cli.run("distill", "--nproc-per-node", "3", "--batch", "128", "--out", dir.resolve("x").toString());
        assertEquals(Main.EXIT_USAGE, c.exitCode(), c.err());
        assertTrue(c.err().contains("--batch 128 is the global batch: it must divide by --nproc-per-node 3"), c.err());
        assertEquals(1, c.errLines(), c.err());
        c = Cli.run("distill", "--nproc-per-node", "0", "--out", dir.resolve("x").toString());
        assertEquals(Main.EXIT_USAGE, c.exitCode(), c.err());
        assertTrue(c.err().contains("--nproc-per-node must be >= 1"), c.err());
    }

    /** Every parameter of a written TorchScript file, as raw float bits. */
    private static List<Integer> bits(Path file) {
        List<Integer> out = new ArrayList<>();
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(file)) {
            for (Tensor p : m.parameters()) for (float v : p.toFloatArray()) out.add(Float.floatToRawIntBits(v));
        }
        return out;
    }

    private List<String> trainTeacher(Path data, Path model, Path out, long steps, String... more) {
        List<String> a = new ArrayList<>(List.of("train-teacher", "--nproc-per-node", "2", "--data", data.toString(), "--model",
                model.toString(), "--out", out.toString(), "--steps", String.valueOf(steps), "--batch", "8", "--lr", "3e-3",
                "--lr-warmup", "5", "--log-every", "5", "--ckpt-every", "10", "--threads", "1", "-q"));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void trainTeacherOnTwoWorkersResumesExactly() throws Exception {
        Path model = TrainTeacherCommandTest.tinyConvDenoiser(dir.resolve("tiny.pt"), 1e30), data = dir.resolve("data.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Npy.write(data, Tensor.rand(g, 40, 1, 8, 8).mul(2).sub(1));
        }
        Path log = dir.resolve("log.txt");
        Process p = start(log, trainTeacher(data, model, dir.resolve("straight"), 30));
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, Files.readString(log));
        assertTrue(Files.readString(log).contains("data-parallel: 2 processes, 4 images each of --batch 8"), Files.readString(log));
        assertTrue(hasEntry(dir.resolve("straight/checkpoints/ckpt-000000030.zip"), "rng.rank1.bin"));

        p = start(log, trainTeacher(data, model, dir.resolve("split"), 20));
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, Files.readString(log));
        p = start(log, trainTeacher(data, model, dir.resolve("split"), 30, "--resume"));
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, Files.readString(log));
        for (String f : new String[] {"teacher.pt", "teacher_raw.pt"})
            assertEquals(bits(dir.resolve("straight").resolve(f)), bits(dir.resolve("split").resolve(f)), f + " after 20 + 10 steps on 2 workers");
    }
}
