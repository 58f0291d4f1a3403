package dev.diffinstruct.trainer;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the Python reference scripts of trainer/src/test/python with the interpreter Maven passes
 * as system property {@code python} (default /usr/bin/python3). Tests that need it are skipped,
 * not failed, where that interpreter cannot import torch and numpy.
 */
public final class PythonReference {
    private static Boolean available;

    private PythonReference() {}

    public static String interpreter() {
        return System.getProperty("python", "/usr/bin/python3");
    }

    public static Path script(String name) {
        Path root = Path.of(System.getProperty("repo.root", ".."));
        Path p = root.resolve("trainer/src/test/python").resolve(name);
        if (!Files.exists(p)) p = Path.of("src/test/python").resolve(name);
        return p;
    }

    /** Skips the calling test unless {@code interpreter() -c "import torch, numpy"} works. */
    public static synchronized void assumeAvailable() {
        if (available == null) {
            try {
                Process p = new ProcessBuilder(interpreter(), "-c", "import torch, numpy").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                available = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException | InterruptedException e) {
                available = false;
            }
        }
        Assumptions.assumeTrue(available, "Python reference needs " + interpreter() + " with torch and numpy");
    }

    /** Runs a script; fails with its output if it exits non-zero. Returns its stdout+stderr. */
    public static String run(String script, String... args) {
        return runWith(interpreter(), script, args);
    }

    public static String runWith(String python, String script, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(python);
        cmd.add(script(script).toString());
        cmd.addAll(List.of(args));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("OMP_NUM_THREADS", "1");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(script + " timed out");
            }
            if (p.exitValue() != 0) throw new AssertionError(String.join(" ", cmd) + " failed (" + p.exitValue() + "):\n" + out);
            return out;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
