package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * c10d process groups from Java: two ranks as two threads of this JVM, over Gloo on loopback (the
 * same code path as two processes: each rank has its own group, sockets and store client).
 */
class ProcessGroupTest {

    @BeforeAll
    static void needsGloo() {
        assumeFalse(ProcessGroup.backends().isEmpty(), "this shim was built without Gloo");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Runs body(rank) on `world` threads, each with its own joined group; returns their results. */
    static <T> List<T> onRanks(int world, Duration timeout, RankBody<T> body) throws Exception {
        int port = freePort();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    try (ProcessGroup g = ProcessGroup.join("gloo", "127.0.0.1", port, rank, world, timeout)) {
                        return body.run(g);
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    interface RankBody<T> {
        T run(ProcessGroup g) throws Exception;
    }

    @Test
    void collectivesAgreeAcrossRanks() throws Exception {
        List<float[][]> res = onRanks(2, Duration.ofSeconds(30), g -> {
            try (Scope s = Scope.open()) {
                float r = g.rank();
                Tensor sum = Tensor.of(new float[] {r + 1, 10 * (r + 1)});
                g.allReduce(sum, false);
                Tensor mean = Tensor.of(new float[] {r + 1});
                g.allReduce(mean, true);
                Tensor b = Tensor.of(new float[] {r == 1 ? 7f : -1f, r});
                g.broadcast(b, 1);
                byte[][] all = g.allGather(new byte[] {(byte) (40 + g.rank()), 1});
                g.barrier();
                return new float[][] {sum.toFloatArray(), mean.toFloatArray(), b.toFloatArray(),
                        {all[0][0], all[1][0], g.worldSize()}};
            }
        });
        for (float[][] r : res) {
            assertArrayEquals(new float[] {3, 30}, r[0]);
            assertArrayEquals(new float[] {1.5f}, r[1]);
            assertArrayEquals(new float[] {7, 1}, r[2]);
            assertArrayEquals(new float[] {40, 41, 2}, r[3]);
        }
    }

    @Test
    void gradientsAreAveragedAndParametersBroadcast() throws Exception {
        // each rank's gradient of sum(m(x_r)) with its own x_r; the mean over ranks is the gradient
        // of the mean of both losses, computed here in one process for comparison
        IntFunction<float[]> input = r -> new float[] {r + 1, -r, 0.5f, 2 * r - 1};
        List<float[][]> res = onRanks(2, Duration.ofSeconds(30), g -> {
            try (Scope s = Scope.open(); ScriptModule m = TrainingHelpersTest.linear(100 + g.rank())) {
                g.broadcastParameters(m, 0); // rank 1's module now holds rank 0's parameters
                m.forward(Tensor.of(input.apply(g.rank()), 1, 4)).sum().backward();
                g.allReduceGradients(m);
                List<Tensor> p = m.parameters();
                return new float[][] {p.get(0).toFloatArray(), p.get(0).grad().toFloatArray(), p.get(1).grad().toFloatArray()};
            }
        });
        try (Scope s = Scope.open(); ScriptModule ref = TrainingHelpersTest.linear(100)) {
            Tensor l0 = ref.forward(Tensor.of(input.apply(0), 1, 4)).sum();
            Tensor l1 = ref.forward(Tensor.of(input.apply(1), 1, 4)).sum();
            l0.add(l1).mul(0.5).backward();
            float[] w = ref.parameters().get(0).toFloatArray(), gw = ref.parameters().get(0).grad().toFloatArray();
            float[] gb = ref.parameters().get(1).grad().toFloatArray();
            for (float[][] r : res) {
                assertArrayEquals(w, r[0]);
                assertArrayEquals(gw, r[1], 1e-6f);
                assertArrayEquals(gb, r[2], 1e-6f);
            }
        }
    }

    @Test
    void aRankThatNeverComesIsATimeoutNamingTheRank() throws Exception {
        int port = freePort();
        long t0 = System.nanoTime();
        TorchException e = assertThrows(TorchException.class,
                () -> ProcessGroup.join("gloo", "127.0.0.1", port, 0, 2, Duration.ofSeconds(2)));
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(s < 20, "took " + s + " s");
        assertTrue(e.getMessage().contains("rank 0 of 2"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void aLostPeerIsAnErrorNamingIt() throws Exception {
        List<String> res = onRanks(2, Duration.ofSeconds(10), g -> {
            g.barrier();
            if (g.rank() == 1) return "left"; // closes its group: its sockets go away mid-run
            try (Scope s = Scope.open()) {
                Thread.sleep(500);
                TorchException e = assertThrows(TorchException.class, () -> g.allReduce(Tensor.of(new float[] {1}), false));
                return e.getMessage();
            }
        });
        String msg = res.get(0);
        assertTrue(msg.contains("rank 0 of 2") && msg.contains("lost rank 1"), msg);
        assertEquals(1, msg.lines().count(), msg);
    }

    @Test
    void badArgumentsAreOneLine() {
        TorchException e = assertThrows(TorchException.class,
                () -> ProcessGroup.join("gloo", "127.0.0.1", 1234, 2, 2, Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("rank 2 is not in 0..1"), e.getMessage());
        e = assertThrows(TorchException.class, () -> ProcessGroup.join("mpi", "127.0.0.1", 1234, 0, 1, Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("unknown backend 'mpi'"), e.getMessage());
    }
}
