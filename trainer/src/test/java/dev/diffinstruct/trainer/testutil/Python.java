package dev.diffinstruct.trainer.testutil;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the reference Python (torch 1.13) on a script; fails the test with its output when it fails. */
public final class Python {
    private Python() {}

    public static String executable() {
        return System.getProperty("python", "/usr/bin/python3");
    }

    /** Runs inline source with arguments; returns stdout. */
    public static String run(String source, String... args) throws IOException, InterruptedException {
        Path f = Files.createTempFile("di-test", ".py");
        try {
            Files.writeString(f, source);
            return runFile(f, args);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    public static String runFile(Path script, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(executable(), script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("python timed out");
        }
        String s = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new AssertionError("python failed (" + p.exitValue() + "):\n" + s);
        return s;
    }
}
