package dev.diffinstruct.trainer.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.diffinstruct.torch.ProcessGroup;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.RunFolder;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.World;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel distillation over c10d Gloo on loopback, two ranks as two threads of this JVM
 * (each with its own process group, sockets and noise stream; the networks here have no dropout,
 * the one thing that draws from libtorch's process-wide generator).
 */
class DataParallelTest {
    @TempDir
    Path dir;

    private static int threadsBefore;

    @BeforeAll
    static void needsGloo() {
        assumeFalse(ProcessGroup.backends().isEmpty(), "this shim was built without Gloo");
        // Two ranks in one process share libtorch's intra-op pool: with more than one thread, how a
        // reduction is split depends on how many threads each rank's call gets, and bit-exactness
        // with it. Separate processes (the real case) each have their own pool.
        threadsBefore = Torch.threads();
        Torch.setThreads(1);
    }

    @AfterAll
    static void restoreThreads() {
        if (threadsBefore > 0) Torch.setThreads(threadsBefore);
    }

    static DistillConfig config(Path out, long steps) {
        DistillConfig c = ResumeTest.small(out);
        c.steps = steps;
        c.batch = 64; // the global batch: 32 per rank
        return c;
    }

    /** body(world) on two ranks (threads), each in a world of its own group; their results by rank. */
    static <T> List<T> twoRanks(Function<World, T> body) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r, p = port;
                fs.add(pool.submit(() -> {
                    try (World w = World.of(ProcessGroup.join("gloo", "127.0.0.1", p, rank, 2, Duration.ofSeconds(60)))) {
                        return body.apply(w);
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

    /** Rank w.rank() of a fresh run (or a resumed one) to cfg.steps; the generator's fingerprint. */
    static float[][] train(DistillConfig cfg, World w, boolean resume, List<String> messages) {
        DistillConfig c = cfg.copy();
        TrainingListener<StepMetrics> l = w.isMain() ? ResumeTest.collecting(messages) : TrainingListener.none();
        try (DistillRun di = resume ? DistillRun.resume(c, l, w).orElseThrow() : DistillRun.start(c, Networks.resolve(c), w)) {
            di.run(l, new AtomicBoolean());
            return ResumeTest.fingerprint(di);
        }
    }

    @Test
    void twoRanksTakeTheUpdateOfOneProcessOnTheWholeBatch() throws Exception {
        DistillConfig cfg = config(dir.resolve("ranks"), 60);
        List<float[][]> ranks = twoRanks(w -> train(cfg, w, false, new ArrayList<>()));
        // every rank holds the same networks, bit for bit (the averaged gradient is the same on all)
        ResumeTest.assertBitIdentical(ranks.get(0), ranks.get(1));

        // one process, batch 64, fed each rank's noise for its half of the batch
        DistillConfig one = config(dir.resolve("one"), 60);
        float[][] ref;
        try (DistillRun di = DistillRun.start(one, Networks.resolve(one), World.SINGLE,
                DistillRun.trainingStream(one.seed, 0), DistillRun.trainingStream(one.seed, 1))) {
            di.run(TrainingListener.none(), new AtomicBoolean());
            ref = ResumeTest.fingerprint(di);
        }
        // the same up to float rounding (sums over ranks associate differently from one batch mean)
        double maxDiff = 0, scale = 0;
        for (int i = 0; i < ref.length; i++)
            for (int j = 0; j < ref[i].length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(ref[i][j] - ranks.get(0)[i][j]));
                scale = Math.max(scale, Math.abs(ref[i][j]));
            }
        assertTrue(maxDiff <= 1e-4 * Math.max(1, scale), "max difference " + maxDiff + " (scale " + scale + ")");

        // and not the same as a single-stream run: the comparison above is not vacuous
        DistillConfig plain = config(dir.resolve("plain"), 60);
        float[][] single;
        try (DistillRun di = DistillRun.start(plain, Networks.resolve(plain))) {
            di.run(TrainingListener.none(), new AtomicBoolean());
            single = ResumeTest.fingerprint(di);
        }
        double d = 0;
        for (int j = 0; j < single[0].length; j++) d = Math.max(d, Math.abs(single[0][j] - ref[0][j]));
        assertTrue(d > 1e-3, "a single-stream run differs from the two-stream one (" + d + ")");
    }

    @Test
    void aCheckpointOfTwoRanksResumesExactlyOnTwoAndWithAWarningOnOne() throws Exception {
        DistillConfig straight = config(dir.resolve("straight"), 70);
        List<float[][]> a = twoRanks(w -> train(straight, w, false, new ArrayList<>()));

        DistillConfig first = config(dir.resolve("split"), 50);
        twoRanks(w -> train(first, w, false, new ArrayList<>()));
        CheckpointStore.Checkpoint c = RunFolder.checkpoints(dir.resolve("split")).latest(m -> {}, "state.json").orElseThrow();
        assertEquals(50, c.step());
        assertTrue(c.part("rng.rank1.bin").length > 0 && c.part("torch_rng.rank1.bin").length > 0, "rank 1's random states are saved");
        DistillConfig more = config(dir.resolve("split"), 70);
        List<String> messages = new ArrayList<>();
        List<float[][]> b = twoRanks(w -> train(more, w, true, messages));
        ResumeTest.assertBitIdentical(a.get(0), b.get(0));
        ResumeTest.assertBitIdentical(a.get(1), b.get(1));
        assertTrue(messages.stream().noneMatch(m -> m.contains("not bit-exactly")), messages.toString());

        // on one process it continues, and says that it is not the same run
        DistillConfig single = config(dir.resolve("split"), 80);
        List<String> said = new ArrayList<>();
        train(single, World.SINGLE, true, said);
        assertTrue(said.stream().anyMatch(m -> m.contains("resuming a run of 2 process(es) on 1") && m.contains("not bit-exactly")),
                said.toString());
    }
}
