package dev.diffinstruct.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SIGTERM in the middle of {@code distill} leaves a checkpoint that {@code --resume} continues from. */
class SigtermTest {
    @TempDir
    Path dir;

    private static Process start(Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static long lastLoggedStep(Path metrics) throws Exception {
        if (!Files.exists(metrics)) return 0;
        long last = 0;
        Matcher m = Pattern.compile("\"step\":(\\d+)").matcher(Files.readString(metrics));
        while (m.find()) last = Long.parseLong(m.group(1));
        return last;
    }

    private static long newestCheckpoint(Path out) throws Exception {
        try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("ckpt-\\d+\\.zip"))
                    .mapToLong(n -> Long.parseLong(n.replaceAll("\\D", ""))).max().orElse(-1);
        }
    }

    /** Sends SIGTERM once {@code ready} holds, waits for the process to end and returns what it printed. */
    private static String sigtermWhen(Process p, Path log, java.util.concurrent.Callable<Boolean> ready) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!ready.call()) {
            assertTrue(p.isAlive(), "ended early: " + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no progress: " + Files.readString(log));
            Thread.sleep(50);
        }
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not stop on SIGTERM: " + Files.readString(log));
        return Files.readString(log);
    }

    @Test
    void sigtermWritesACheckpointThatResumeContinues() throws Exception {
        Path out = dir.resolve("run"), log = dir.resolve("log.txt");
        Process p = start(log, "distill", "--out", out.toString(), "--steps", "1000000", "--log-every", "10",
                "--ckpt-every", "1000000", "--snapshot-every", "0");
        String text = sigtermWhen(p, log, () -> lastLoggedStep(out.resolve("metrics.jsonl")) >= 300);
        assertEquals(143, p.exitValue(), "128 + SIGTERM, as a shell reports it: " + text);
        long ckpt = newestCheckpoint(out);
        assertTrue(ckpt >= 300, "a checkpoint at the step reached, got " + ckpt + "\n" + text);
        assertTrue(text.contains("stopped at step " + ckpt), text);

        Path log2 = dir.resolve("log2.txt");
        Process resumed = start(log2, "distill", "--out", out.toString(), "--steps", String.valueOf(ckpt + 30), "--resume",
                "--log-every", "10", "--snapshot-every", "0");
        assertTrue(resumed.waitFor(120, TimeUnit.SECONDS), "resume did not finish");
        String text2 = Files.readString(log2);
        assertEquals(0, resumed.exitValue(), text2);
        assertTrue(text2.contains("resuming from checkpoints" + File.separator + "ckpt-") && text2.contains("at step " + ckpt), text2);
        assertEquals(ckpt + 30, lastLoggedStep(out.resolve("metrics.jsonl")));
        assertTrue(Files.exists(out.resolve("generator.pt")));
    }

    @Test
    void sigtermDuringSamplingStopsBetweenBatchesAndWritesNothing() throws Exception {
        Path gen = Path.of(System.getProperty("repo.root", "..")).resolve("assets/fashion-mnist/generator.pt");
        Path out = dir.resolve("s.npy"), log = dir.resolve("sample.txt");
        Process p = start(log, "sample", "--generator", gen.toString(), "--n", "1000000", "--batch", "50", "--out", out.toString());
        // inside the batch loop: libtorch is busy most of the time
        String text = sigtermWhen(p, log, () -> Files.readString(log).contains("generated"));
        assertEquals(143, p.exitValue(), text);
        assertTrue(text.contains("stopped by SIGTERM while sampling the generator; nothing was written"), text);
        assertFalse(Files.exists(out), "no partial output");
        assertFalse(text.contains("SIGSEGV") || text.contains("hs_err"), text);
    }
}
