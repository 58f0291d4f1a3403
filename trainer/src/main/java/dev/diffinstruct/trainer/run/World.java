package dev.diffinstruct.trainer.run;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ProcessGroup;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.InvalidInputException;
import com.google.gson.JsonObject;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The processes of one data-parallel run: this process's rank among {@link #size} and, when there
 * are several, the c10d {@link ProcessGroup} they train through. Rank 0 is the main process: it
 * alone writes checkpoints, outputs, logs and progress. A run of one process has no group and
 * every collective here is the identity, so single-process training is unchanged.
 *
 * <p>Launched like torchrun: {@code RANK}, {@code WORLD_SIZE}, {@code MASTER_ADDR},
 * {@code MASTER_PORT} (and {@code LOCAL_RANK}, the GPU of a {@code --device cuda} rank) from the
 * environment, as torchrun, Slurm scripts and Kubernetes jobs set them.
 */
public final class World implements AutoCloseable {
    /** One process, no group. */
    public static final World SINGLE = new World(null, 0, 1, 0);
    /** How long a collective (or the rendezvous) may wait, unless DIFFINSTRUCT_DIST_TIMEOUT (seconds) says otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    private final ProcessGroup group;
    private final int rank, size, localRank;

    World(ProcessGroup group, int rank, int size, int localRank) {
        this.group = group;
        this.rank = rank;
        this.size = size;
        this.localRank = localRank;
    }

    /** A world over an existing group (tests: ranks as threads of one JVM). */
    public static World of(ProcessGroup group) {
        return new World(group, group.rank(), group.worldSize(), group.rank());
    }

    /**
     * The world the environment describes: {@link #SINGLE} without {@code WORLD_SIZE} (or with 1),
     * else this process joins the group (blocking until all ranks have, or the timeout).
     */
    public static World fromEnvironment(Map<String, String> env, String backend) {
        String ws = env.get("WORLD_SIZE");
        if (ws == null || ws.isBlank() || ws.trim().equals("1")) return SINGLE;
        int size = intVar(env, "WORLD_SIZE", 1, 1 << 20);
        int rank = intVar(env, "RANK", 0, size - 1);
        int local = env.containsKey("LOCAL_RANK") ? intVar(env, "LOCAL_RANK", 0, 1 << 20) : rank;
        String host = env.getOrDefault("MASTER_ADDR", "");
        if (host.isBlank()) throw new InvalidInputException("WORLD_SIZE=" + size + " but MASTER_ADDR is not set (the host of rank 0)");
        int port = intVar(env, "MASTER_PORT", 1, 65535);
        Duration timeout = DEFAULT_TIMEOUT;
        if (env.containsKey("DIFFINSTRUCT_DIST_TIMEOUT")) timeout = Duration.ofSeconds(intVar(env, "DIFFINSTRUCT_DIST_TIMEOUT", 1, 86400));
        return new World(ProcessGroup.join(backend, host.trim(), port, rank, size, timeout), rank, size, local);
    }

    private static int intVar(Map<String, String> env, String name, int min, int max) {
        String v = env.get(name);
        if (v == null || v.isBlank()) throw new InvalidInputException("WORLD_SIZE is set but " + name + " is not");
        try {
            int i = Integer.parseInt(v.trim());
            if (i < min || i > max) throw new NumberFormatException();
            return i;
        } catch (NumberFormatException e) {
            throw new InvalidInputException(name + "=" + v + " is not an integer in " + min + ".." + max);
        }
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    /** This process's index on its machine (torchrun's LOCAL_RANK). */
    public int localRank() {
        return localRank;
    }

    /** Rank 0: the process that writes. */
    public boolean isMain() {
        return rank == 0;
    }

    /** The mean over ranks of m's parameter gradients, in place. */
    public void averageGradients(ScriptModule m) {
        if (group != null) group.allReduceGradients(m);
    }

    /** Rank 0's parameters and buffers, copied into every rank's m. */
    public void broadcastFromMain(ScriptModule m) {
        if (group != null) group.broadcastParameters(m, 0);
    }

    /** True on every rank if it is true on any: ranks agree to stop at the same step. */
    public boolean any(boolean flag) {
        if (group == null) return flag;
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.of(new float[] {flag ? 1 : 0});
            group.allReduce(t, false);
            return t.item() > 0;
        }
    }

    /** The mean over ranks of v (a logged loss, say). */
    public double mean(double v) {
        if (group == null) return v;
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.of(new double[] {v}, 1);
            group.allReduce(t, true);
            return t.item();
        }
    }

    /** Every rank's bytes (of the same length on all), by rank. */
    public byte[][] gather(byte[] bytes) {
        if (group == null) return new byte[][] {bytes};
        return group.allGather(bytes);
    }

    public void barrier() {
        if (group != null) group.barrier();
    }

    // ---- every rank's random states in a checkpoint (both trainers) ---------------------------

    private static final String SIZE_KEY = "world_size";

    /** The checkpoint state's record of how many ranks wrote it (absent for one). */
    public void describe(Map<String, Object> state) {
        if (size > 1) state.put(SIZE_KEY, size);
    }

    /**
     * This rank's states of its noise stream and of libtorch's default generators (dropout), as a
     * checkpoint saved them: the CPU's always, the CUDA device's ({@code deviceDropout}) when the
     * run was on CUDA, else null.
     */
    public record RandomStates(byte[] noise, byte[] dropout, byte[] deviceDropout) {
        /** Restores the default generators: the CPU's, and {@code device}'s when the checkpoint has it. */
        public void restoreDropout(Device device) {
            Torch.setRngState(dropout);
            if (deviceDropout != null) Torch.setRngState(device, deviceDropout);
        }
    }

    /**
     * Collective: every rank's random states, as checkpoint parts on rank 0 ({@code rng.bin},
     * {@code torch_rng.bin} and on CUDA {@code torch_cuda_rng.bin} its own, {@code rng.rankR.bin}
     * ... the others'), so that a resume on as many ranks of the same device kind is exact; empty
     * on the other ranks. {@code device}: where this rank's networks run.
     */
    public Map<String, byte[]> randomStateParts(byte[] noiseState, Device device) {
        byte[][] noise = gather(noiseState), dropout = gather(Torch.rngState());
        byte[][] deviceDropout = device.isCuda() ? gather(Torch.rngState(device)) : null;
        Map<String, byte[]> parts = new LinkedHashMap<>();
        if (!isMain()) return parts;
        for (int r = 0; r < size; r++) {
            parts.put(partName("rng", r), noise[r]);
            parts.put(partName("torch_rng", r), dropout[r]);
            if (deviceDropout != null) parts.put(partName(CUDA_DROPOUT, r), deviceDropout[r]);
        }
        return parts;
    }

    private static final String CUDA_DROPOUT = "torch_cuda_rng";

    /**
     * This rank's random states in checkpoint {@code c} (whose state.json is {@code state}); empty
     * when the run that wrote it had no such rank, or ran on the other kind of device (a CPU
     * generator's state does not fit a CUDA one). Both are reported: the run continues, but not
     * bit-exactly.
     */
    public Optional<RandomStates> randomStates(CheckpointStore.Checkpoint c, JsonObject state, Consumer<String> report, Device device) {
        int saved = state.has(SIZE_KEY) ? state.get(SIZE_KEY).getAsInt() : 1;
        if (saved != size)
            report.accept("resuming a run of " + saved + " process(es) on " + size
                    + ": it continues, but not bit-exactly (the batch splits into other noise streams)");
        boolean savedOnCuda = c.parts().containsKey(partName(CUDA_DROPOUT, 0));
        if (savedOnCuda != device.isCuda()) {
            report.accept("resuming a run written on " + (savedOnCuda ? "CUDA" : "the CPU") + " on " + (device.isCuda() ? "CUDA" : "the CPU")
                    + ": it continues with fresh random streams, not bit-exactly");
            return Optional.empty();
        }
        if (rank >= saved) return Optional.empty();
        return Optional.of(new RandomStates(c.part(partName("rng", rank)), c.part(partName("torch_rng", rank)),
                device.isCuda() ? c.part(partName(CUDA_DROPOUT, rank)) : null));
    }

    private static String partName(String kind, int rank) {
        return kind + (rank == 0 ? "" : ".rank" + rank) + ".bin";
    }

    /** Leaves the group. */
    @Override
    public void close() {
        if (group != null) group.close();
    }
}
