package dev.diffinstruct.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.StopRequest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs the Python side of {@code import} (the repository's {@code models/edm}, packed into the jar)
 * in a child process, with a Python that has torch and numpy. Unpickling a checkpoint runs code, so
 * it never happens in this JVM: the child reads the checkpoint, scripts the network, checks it and
 * leaves {@code teacher.pt} and the check's tensors in a private temporary folder.
 */
final class PythonHelper implements AutoCloseable {
    /** Every file of models/edm the helper needs (a test checks this list against the folder). */
    static final List<String> FILES = List.of("import_teacher.py", "import_common.py", "module_import.py",
            "edm_nets.py", "edm_precond.py", "edm_pickle.py",
            "standins/__init__.py", "standins/persistence.py", "standins/misc.py");
    static final String RESOURCES = "/dev/diffinstruct/cli/python/";
    static final String ENV = "DIFFINSTRUCT_PYTHON";

    private final String python;
    private final Path dir;

    private PythonHelper(String python, Path dir) {
        this.python = python;
        this.dir = dir;
    }

    /**
     * The helper with {@code given} (--python), else $DIFFINSTRUCT_PYTHON, else the first of
     * {@code python3} and {@code /usr/bin/python3} that imports torch and numpy.
     */
    static PythonHelper open(String given) {
        String env = System.getenv(ENV);
        List<String> tried = new ArrayList<>();
        String found = null;
        if (given != null || (env != null && !env.isBlank())) {
            String py = given != null ? given : env;
            String why = probe(py);
            if (why != null) throw new InvalidInputException((given != null ? "--python " : ENV + "=") + py + ": " + why);
            found = py;
        } else {
            for (String py : List.of("python3", "/usr/bin/python3")) {
                String why = probe(py);
                if (why == null) {
                    found = py;
                    break;
                }
                tried.add(py + " (" + why + ")");
            }
            if (found == null)
                throw new InvalidInputException("no Python with torch and numpy found (tried " + String.join(", ", tried)
                        + "): give --python PATH or set " + ENV);
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("diffinstruct-import");
            for (String f : FILES) {
                Path target = dir.resolve("py").resolve(f);
                Files.createDirectories(target.getParent());
                try (InputStream in = PythonHelper.class.getResourceAsStream(RESOURCES + f)) {
                    if (in == null) throw new IllegalStateException("the jar lacks " + RESOURCES + f + " (a broken build)");
                    Files.copy(in, target);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot set up the Python helper in a temporary folder: " + e.getMessage(), e);
        }
        return new PythonHelper(found, dir);
    }

    /** null if {@code py} runs and imports torch and numpy, else why not (one phrase). */
    private static String probe(String py) {
        try {
            Process p = new ProcessBuilder(py, "-c", "import torch, numpy").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "did not answer in 120 s";
            }
            if (p.exitValue() == 0) return null;
            String last = out.lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("exit " + p.exitValue());
            return "cannot import torch and numpy: " + last.strip();
        } catch (IOException e) {
            return "cannot be run";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    String python() {
        return python;
    }

    /** Where the child leaves teacher.pt and the check_*.npy files. */
    Path work() {
        return dir.resolve("out");
    }

    /**
     * Runs {@code import_teacher.py args... --work work()}; its progress lines go to {@code err}
     * indented. Returns its JSON summary; a failure is its one {@code error:} line.
     */
    JsonObject run(List<String> args, PrintWriter err) {
        List<String> cmd = new ArrayList<>(List.of(python, "-B", dir.resolve("py/import_teacher.py").toString()));
        cmd.addAll(args);
        cmd.addAll(List.of("--work", work().toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("PYTHONNOUSERSITE", "1"); // the user's site packages may shadow torch's own modules
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new InvalidInputException("cannot run " + python + ": " + e.getMessage(), e);
        }
        StringBuilder out = new StringBuilder();
        String[] lastError = {null, null};
        Thread stdout = Thread.ofPlatform().daemon().start(() -> slurp(p.getInputStream(), out::append));
        Thread stderr = Thread.ofPlatform().daemon().start(() -> slurp(p.getErrorStream(), line -> {
            if (line.startsWith("error: ")) lastError[0] = line.substring(7);
            else if (!line.isBlank()) {
                lastError[1] = line.strip();
                err.println("  " + line);
                err.flush();
            }
        }));
        try {
            while (!p.waitFor(200, TimeUnit.MILLISECONDS)) {
                if (StopRequest.requested()) {
                    p.destroy();
                    p.waitFor(10, TimeUnit.SECONDS);
                    throw new InvalidInputException("stopped by " + StopRequest.signal() + ": nothing written");
                }
            }
            stdout.join();
            stderr.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InvalidInputException("interrupted: nothing written", e);
        } finally {
            p.destroyForcibly();
        }
        if (p.exitValue() != 0) {
            if (lastError[0] != null) throw new InvalidInputException(lastError[0]);
            throw new InvalidInputException("the Python helper (" + python + ") failed with exit " + p.exitValue()
                    + (lastError[1] != null ? ": " + lastError[1] : ""));
        }
        String json = out.toString().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElse("");
        try {
            return JsonParser.parseString(json).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new InvalidInputException("the Python helper (" + python + ") printed no summary: " + out.toString().strip(), e);
        }
    }

    private static void slurp(InputStream in, java.util.function.Consumer<String> line) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) line.accept(l);
        } catch (IOException e) {
            // the child went away: its exit status says what happened
        }
    }

    /** Removes the temporary folder (the scripts, the checkpoint's TorchScript copy, the check's tensors). */
    @Override
    public void close() {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: it lives under the system's temporary folder
        }
    }
}
