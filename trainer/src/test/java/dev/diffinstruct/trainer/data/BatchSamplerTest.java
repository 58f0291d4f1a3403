package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchSamplerTest {
    /** 50 images [1, 2, 2] whose pixels all hold the row index, labels = index % 7. */
    private static ImageDataset data() {
        float[] px = new float[50 * 4];
        long[] lab = new long[50];
        for (int i = 0; i < 50; i++) {
            Arrays.fill(px, 4 * i, 4 * i + 4, i);
            lab[i] = i % 7;
        }
        return new ImageDataset(Tensor.of(px, 50, 1, 2, 2), Tensor.of(lab, 50), List.of("0", "1", "2", "3", "4", "5", "6"), "test");
    }

    private static List<long[]> draw(long seed, int batches) {
        List<long[]> out = new ArrayList<>();
        try (Scope s = Scope.open(); Generator g = new Generator(seed)) {
            ImageDataset d = data();
            BatchSampler sampler = new BatchSampler(d, 8, g);
            for (int b = 0; b < batches; b++) {
                try (Scope step = Scope.open()) { // batches made inside a per-step scope, as a training loop does
                    BatchSampler.Batch batch = sampler.next();
                    assertArrayEquals(new long[] {8, 1, 2, 2}, batch.images().shape());
                    float[] px = batch.images().toFloatArray();
                    long[] rows = new long[8];
                    for (int i = 0; i < 8; i++) rows[i] = (long) px[4 * i];
                    long[] labels = batch.labels().toLongArray();
                    for (int i = 0; i < 8; i++) assertEquals(rows[i] % 7, labels[i], "labels follow their images");
                    out.add(rows);
                }
            }
        }
        return out;
    }

    @Test
    void sameSeedSameBatchesOtherSeedOtherBatches() {
        List<long[]> a = draw(7, 15), b = draw(7, 15), c = draw(8, 15);
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "batch " + i);
        boolean differs = false;
        for (int i = 0; i < a.size(); i++) differs |= !Arrays.equals(a.get(i), c.get(i));
        assertTrue(differs, "another seed gives other batches");
    }

    @Test
    void eachEpochIsAPermutationWithoutRepeats() {
        List<long[]> batches = draw(3, 12); // 6 batches of 8 per epoch (2 of the 50 rows skipped each epoch)
        for (int epoch = 0; epoch < 2; epoch++) {
            Set<Long> seen = new HashSet<>();
            for (int b = 0; b < 6; b++) for (long r : batches.get(epoch * 6 + b)) assertTrue(seen.add(r), "row " + r + " repeated");
            assertEquals(48, seen.size());
        }
        assertNotEquals(Arrays.toString(batches.get(0)), Arrays.toString(batches.get(6)), "a new order each epoch");
    }

    @Test
    void unlabelledDataGivesNullLabelsAndBadSizesAreRefused() {
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            Tensor x = Tensor.zeros(5, 1, 2, 2);
            BatchSampler sampler = new BatchSampler(x, null, 5, g);
            assertNull(sampler.next().labels());
            assertEquals(1, sampler.epoch());
            assertThrows(IllegalArgumentException.class, () -> new BatchSampler(x, null, 6, g));
            assertThrows(IllegalArgumentException.class, () -> new BatchSampler(x, null, 0, g));
        }
    }

    /** Rows of the next batch (pixels hold the row index). */
    private static long[] rows(BatchSampler sampler) {
        try (Scope step = Scope.open()) {
            float[] px = sampler.next().images().toFloatArray();
            long[] r = new long[px.length / 4];
            for (int i = 0; i < r.length; i++) r[i] = (long) px[4 * i];
            return r;
        }
    }

    @Test
    void savedStateWithTheGeneratorsStateReplaysTheSameBatches() {
        for (int before : new int[] {0, 3, 6, 7}) { // fresh, mid-epoch, at an epoch's end, in the second epoch
            try (Scope s = Scope.open(); Generator g = new Generator(11); Generator g2 = new Generator(999)) {
                ImageDataset d = data();
                BatchSampler a = new BatchSampler(d, 8, g);
                for (int i = 0; i < before; i++) rows(a);
                byte[] state = a.saveState(), rng = g.state();
                long epoch = a.epoch();
                List<long[]> expected = new ArrayList<>();
                for (int i = 0; i < 10; i++) expected.add(rows(a));

                BatchSampler b = new BatchSampler(d, 8, g2);
                rows(b); // a sampler somewhere else entirely
                g2.setState(rng);
                b.restoreState(state);
                assertEquals(epoch, b.epoch());
                for (int i = 0; i < 10; i++) assertArrayEquals(expected.get(i), rows(b), "batch " + i + " after " + before);
            }
        }
    }

    @Test
    void stateOfAnotherDatasetOrBatchSizeIsRefused() {
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            BatchSampler a = new BatchSampler(data(), 8, g);
            rows(a);
            byte[] state = a.saveState();
            Tensor x = Tensor.zeros(49, 1, 2, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BatchSampler(x, null, 8, g).restoreState(state));
            assertTrue(e.getMessage().contains("50 items"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new BatchSampler(data(), 5, g).restoreState(state));
            assertThrows(IllegalArgumentException.class, () -> new BatchSampler(data(), 8, g).restoreState(Arrays.copyOf(state, 30)));
            assertThrows(IllegalArgumentException.class, () -> new BatchSampler(data(), 8, g).restoreState(new byte[] {1, 2, 3, 4}));
        }
    }
}
