package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

import java.util.Arrays;

/**
 * Seeded random minibatches of a dataset: each epoch is a fresh random permutation (drawn from the
 * given {@link Generator}), cut into batches of {@code batchSize}; the incomplete remainder of an
 * epoch is skipped, so every batch has exactly {@code batchSize} images. The same generator seed
 * gives the same batches.
 *
 * <p>The sampler borrows the dataset and the generator and closes neither. Batches are made in
 * the caller's current {@link Scope}. Datasets of up to 2^31 - 1 items.
 */
public final class BatchSampler implements AutoCloseable {
    /** A minibatch: images [B, C, H, W] and labels [B] (null when the dataset has none). */
    public record Batch(Tensor images, Tensor labels) {}

    private final Tensor images;
    private final Tensor labels;
    private final int batchSize;
    private final Generator rng;
    private final long n;
    private long[] perm; // the current epoch's order
    private long pos;
    private long epoch;

    public BatchSampler(ImageDataset data, int batchSize, Generator rng) {
        this(data.images(), data.labels(), batchSize, rng);
    }

    /** Batches of rows of {@code images} (and of {@code labels}, which may be null). */
    public BatchSampler(Tensor images, Tensor labels, int batchSize, Generator rng) {
        this.n = images.size(0);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (batchSize > n) throw new IllegalArgumentException("batch size " + batchSize + " exceeds the " + n + " items in the dataset");
        if (labels != null && labels.size(0) != n) throw new IllegalArgumentException("labels and images disagree in size");
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("dataset too large: " + n + " items");
        if (rng == null) throw new IllegalArgumentException("a generator is required (batches must be reproducible)");
        this.images = images;
        this.labels = labels;
        this.batchSize = batchSize;
        this.rng = rng;
        this.pos = n; // draw a permutation on the first call
    }

    public int batchSize() {
        return batchSize;
    }

    /** Epochs started so far (1 after the first batch). */
    public long epoch() {
        return epoch;
    }

    /** Batches per epoch. */
    public long batchesPerEpoch() {
        return n / batchSize;
    }

    /** The next batch; its tensors belong to the caller's current scope. */
    public Batch next() {
        if (pos + batchSize > n) reshuffle();
        long[] rows = Arrays.copyOfRange(perm, (int) pos, (int) pos + batchSize);
        pos += batchSize;
        try (Scope sc = Scope.open()) {
            Tensor idx = Tensor.of(rows, batchSize);
            if (!images.device().equals(Device.CPU)) idx = idx.to(images.device());
            Tensor x = sc.keep(images.indexSelect(0, idx));
            Tensor y = labels == null ? null : sc.keep(labels.indexSelect(0, idx.to(labels.device())));
            return new Batch(x, y);
        }
    }

    /**
     * A fresh permutation from the generator: argsort of float64 uniforms, a uniformly random
     * permutation (ties have probability about n^2 / 2^54). Kept on the Java heap, so the sampler
     * owns no tensor and works inside any scope.
     */
    private void reshuffle() {
        try (Scope sc = Scope.open()) {
            perm = Tensor.rand(rng, DType.FLOAT64, rng.device(), n).argsort(0, false).toLongArray();
        }
        pos = 0;
        epoch++;
    }

    /** Nothing native to free; present so a sampler can sit in try-with-resources beside its data. */
    @Override
    public void close() {
        perm = null;
    }
}
