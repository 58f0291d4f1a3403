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
}
