package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A group of processes on c10d, libtorch's distributed engine: a TCPStore rendezvous hosted by
 * rank 0, then a Gloo group (CPU tensors) or an NCCL one (CUDA). Every call waits at most the
 * timeout given at {@link #join}; an error or a timeout is a {@link TorchException} whose message
 * names this rank and the ranks that were found lost. Calls are collective: every rank must make
 * the same calls in the same order. One owner; {@link #close} leaves the group.
 */
public final class ProcessGroup implements AutoCloseable {
    static {
        Native.ensureLoaded();
    }

    private MemorySegment h;
    private final int rank, worldSize;
    private final String backend;

    private ProcessGroup(MemorySegment h, String backend) {
        this.h = h;
        this.backend = backend;
        this.rank = Native.check(Dishim.dt_group_rank(h), "c10d");
        this.worldSize = Native.check(Dishim.dt_group_world_size(h), "c10d");
    }

    /** The backends this build of the shim has ("gloo", "nccl"); empty when it has none. */
    public static List<String> backends() {
        String s = Dishim.dt_distributed_backends().reinterpret(Long.MAX_VALUE).getString(0);
        return s.isEmpty() ? List.of() : Arrays.asList(s.split(","));
    }

    /**
     * Joins the group of {@code worldSize} processes that rendezvous at {@code host:port}; blocks
     * until all have joined or {@code timeout} has passed. {@code backend}: "gloo" or "nccl".
     */
    public static ProcessGroup join(String backend, String host, int port, int rank, int worldSize, Duration timeout) {
        if (backends().isEmpty())
            throw new TorchException("c10d", "this build has no distributed backend (the shim was built"
                    + " without c10d's Gloo headers; on Debian: apt install libgloo-dev, then rebuild)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = Dishim.dt_group_new(a.allocateFrom(backend), a.allocateFrom(host), port, rank, worldSize,
                    Math.max(1, timeout.toMillis()));
            return new ProcessGroup(Native.handle(p, "c10d"), backend);
        }
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    public String backend() {
        return backend;
    }

    private MemorySegment h() {
        if (h == null) throw new IllegalStateException("process group is closed");
        return h;
    }

    /** In place: the sum over ranks, or the mean when {@code average}. */
    public void allReduce(Tensor t, boolean average) {
        Native.check(Dishim.dt_group_all_reduce(h(), t.h(), average ? 1 : 0), "c10d");
    }

    /** In place: rank {@code root}'s values on every rank. */
    public void broadcast(Tensor t, int root) {
        Native.check(Dishim.dt_group_broadcast(h(), t.h(), root), "c10d");
    }

    /** Every rank's {@code t} (the same shape on all), stacked: [worldSize, *t.shape]. */
    public Tensor allGather(Tensor t) {
        return Tensor.wrap(Dishim.dt_group_all_gather(h(), t.h()), "c10d");
    }

    /** Every rank's bytes (the same length on all), indexed by rank. */
    public byte[][] allGather(byte[] bytes) {
        try (Scope s = Scope.open()) {
            Tensor all = allGather(Tensor.of(bytes, bytes.length));
            byte[] flat = all.toByteArray();
            byte[][] out = new byte[worldSize][];
            for (int r = 0; r < worldSize; r++) out[r] = Arrays.copyOfRange(flat, r * bytes.length, (r + 1) * bytes.length);
            return out;
        }
    }

    public void barrier() {
        Native.check(Dishim.dt_group_barrier(h()), "c10d");
    }

    /** The mean over ranks of the module's parameter gradients, in place, in one flat buffer. */
    public void allReduceGradients(ScriptModule m) {
        Native.check(Dishim.dt_group_all_reduce_grads(h(), m.h()), "c10d");
    }

    /** Rank {@code root}'s parameters and buffers, copied into every rank's {@code m}. */
    public void broadcastParameters(ScriptModule m, int root) {
        Native.check(Dishim.dt_group_broadcast_module(h(), m.h(), root), "c10d");
    }

    @Override
    public void close() {
        if (h != null) {
            Dishim.dt_group_free(h);
            h = null;
        }
    }
}
