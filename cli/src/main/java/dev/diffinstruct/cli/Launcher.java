package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.StopRequest;
import dev.diffinstruct.trainer.run.RunFolder;
import dev.diffinstruct.trainer.run.World;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.concurrent.TimeUnit;

/**
 * {@code --nproc-per-node N}: starts N workers of the same command on this machine, as torchrun
 * does (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free MASTER_PORT), and stays until
 * they end. Rank 0 keeps this terminal (its live progress); the others' lines come prefixed with
 * {@code [rank r]}. When one worker fails the others are stopped; a SIGTERM to the launcher is
 * passed on to every worker (Ctrl-C reaches them from the terminal itself), so each writes its
 * share of the final checkpoint.
 */
final class Launcher {
    /** How long the other workers may take to end on their own after one has failed, before they are stopped. */
    private static final long GRACE_MS = 15_000;

    private Launcher() {}

    /**
     * {@code --nproc-per-node n}: checked, and when n > 1 outside a launched job the workers are run
     * here and their exit code returned; null when this process is to train itself.
     */
    private static Integer launchIfAsked(Integer n, long batch, CommandSpec spec) {
        if (n == null) return null;
        if (n < 1) throw new IllegalArgumentException("--nproc-per-node must be >= 1, got " + n);
        if (System.getenv("WORLD_SIZE") != null)
            throw new IllegalArgumentException("--nproc-per-node starts the workers itself: not inside a launched job (WORLD_SIZE is set)");
        if (batch % n != 0)
            throw new IllegalArgumentException("--batch " + batch + " is the global batch: it must divide by --nproc-per-node " + n);
        if (n == 1) return null;
        return launch(n, spec.root().commandLine().getParseResult().originalArgs().toArray(String[]::new), spec.commandLine().getErr());
    }

    /** A training command's work in this process: as rank {@code world.rank()}, on {@code device}. */
    interface Training {
        int run(String device, World world);
    }

    /**
     * A training command (distill, refine, train-teacher): with {@code --nproc-per-node n > 1} the
     * workers, else this process as the rank that torchrun's variables name (NCCL for a CUDA
     * device, else Gloo) on the device {@code resolveDevice} gives, a CUDA rank on cuda:LOCAL_RANK
     * unless --device named one ({@code givenDevice}). A start that fails removes the {@code out} folder it created.
     */
    static int train(Integer n, long batch, Supplier<String> resolveDevice, String givenDevice, String out, CommandSpec spec, Training t) {
        Integer launched = launchIfAsked(n, batch, spec);
        if (launched != null) return launched;
        String device = resolveDevice.get(); // here, not before: with --nproc-per-node each worker resolves its own
        Path dir = Path.of(out);
        boolean existed = Files.exists(dir);
        try (World world = World.fromEnvironment(System.getenv(), device.startsWith("cuda") ? "nccl" : "gloo")) {
            boolean named = givenDevice != null && givenDevice.contains(":");
            return t.run(world.size() > 1 && device.startsWith("cuda") && !named ? "cuda:" + world.localRank() : device, world);
        } catch (RuntimeException e) {
            RunFolder.removeIfLeftEmpty(dir, existed); // a failed start leaves no empty --out behind
            throw e;
        }
    }

    /** The command line of this JVM for a worker: same java, JVM flags and class path, then {@code args}. */
    static List<String> workerCommand(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(args);
        return cmd;
    }

    /** {@code args} without {@code --nproc-per-node N} (or {@code =N}). */
    static List<String> withoutLauncherOption(String[] args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--nproc-per-node")) i++;
            else if (!args[i].startsWith("--nproc-per-node=")) out.add(args[i]);
        }
        return out;
    }

    /** Runs {@code n} workers of {@code args}; the exit code of the first that failed, else 0. */
    static int launch(int n, String[] args, PrintWriter err) {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port for the workers' rendezvous", e);
        }
        List<String> cmd = workerCommand(withoutLauncherOption(args));
        List<Process> workers = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        try {
            for (int r = 0; r < n; r++) {
                ProcessBuilder pb = new ProcessBuilder(cmd);
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(r));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(n));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                if (r == 0) pb.inheritIO();
                else pb.redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.INHERIT);
                Process p = pb.start();
                workers.add(p);
                if (r > 0) pumps.add(pump(p, "[rank " + r + "] ", err));
            }
            return supervise(workers, err);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a worker: " + e.getMessage(), e);
        } finally {
            for (Process p : workers) p.destroyForcibly();
            for (Thread t : pumps) {
                try {
                    t.join(2000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static int supervise(List<Process> workers, PrintWriter err) {
        int code = 0;
        boolean forwarded = false;
        long failedAt = -1;
        while (true) {
            boolean allDone = true;
            for (int r = 0; r < workers.size(); r++) {
                Process p = workers.get(r);
                if (p.isAlive()) {
                    allDone = false;
                    continue;
                }
                int c = p.exitValue();
                if (c != 0 && code == 0) {
                    code = c;
                    // after a stop request every worker ends with 130/143 on its own: not a failure to act on
                    boolean stopping = StopRequest.requested() && (c == 130 || c == 143);
                    if (!stopping && workers.stream().anyMatch(Process::isAlive)) {
                        err.println("launcher: rank " + r + " exited with " + describe(c) + "; stopping the other workers");
                        err.flush();
                    }
                    if (!stopping) failedAt = System.currentTimeMillis();
                }
            }
            if (allDone) return code;
            if (!forwarded && (StopRequest.requested() || failedAt >= 0 && System.currentTimeMillis() - failedAt > GRACE_MS)) {
                forwarded = true;
                for (Process p : workers) if (p.isAlive()) p.destroy(); // SIGTERM: a worker checkpoints if it can, then ends
                failedAt = failedAt < 0 ? System.currentTimeMillis() : failedAt;
            }
            if (forwarded && System.currentTimeMillis() - failedAt > 4 * GRACE_MS)
                for (Process p : workers) if (p.isAlive()) p.destroyForcibly();
            try {
                workers.get(0).waitFor(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return code == 0 ? 1 : code;
            }
        }
    }

    private static String describe(int code) {
        return code > 128 ? "code " + code + " (signal " + (code - 128) + ")" : "code " + code;
    }

    private static Thread pump(Process p, String prefix, PrintWriter err) {
        Thread t = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (err) {
                        err.println(prefix + line);
                        err.flush();
                    }
                }
            } catch (IOException ignored) {
                // the worker is gone; its exit code says how
            }
        }, "worker output " + prefix.trim());
        t.setDaemon(true);
        t.start();
        return t;
    }
}
