package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * Seeded random minibatches of a dataset: each epoch is a fresh random permutation (drawn from the
 * given {@link Generator}), cut into batches of {@code batchSize}; the incomplete remainder of an
 * epoch is skipped, so every batch has exactly {@code batchSize} images. The same generator seed
 * gives the same batches.
 *
 * <p>The sampler borrows the dataset and the generator and closes neither. Batches are made in
 * the caller's current {@link Scope}. Datasets of up to 2^31 - 1 items.
 *
 * <p>{@link #saveState()} / {@link #restoreState(byte[])} capture the position in the stream of
 * batches (the current epoch's order, the position in it, the epoch count); together with the
 * generator's own state, saved by its owner, a restored sampler yields exactly the batches the
 * original would have yielded next.
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

    private static final int STATE_MAGIC = 0x42535431; // "BST1"

    /** The sampler's position (not the generator's state: the sampler only borrows the generator). */
    public byte[] saveState() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(STATE_MAGIC);
            out.writeLong(n);
            out.writeInt(batchSize);
            out.writeLong(pos);
            out.writeLong(epoch);
            out.writeInt(perm == null ? -1 : perm.length);
            if (perm != null) for (long v : perm) out.writeLong(v);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /**
     * Restores a position saved by {@link #saveState()} of a sampler over a dataset of the same
     * size and with the same batch size; anything else is an {@link IllegalArgumentException}.
     */
    public void restoreState(byte[] state) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
            if (in.readInt() != STATE_MAGIC) throw new IllegalArgumentException("not a batch sampler state");
            long savedN = in.readLong();
            int savedBatch = in.readInt();
            if (savedN != n) throw new IllegalArgumentException("the saved batch position is for a dataset of " + savedN + " items, this one has " + n);
            if (savedBatch != batchSize) throw new IllegalArgumentException("the saved batch position is for batches of " + savedBatch + ", not " + batchSize);
            long p = in.readLong(), e = in.readLong();
            int len = in.readInt();
            long[] q = null;
            if (len >= 0) {
                if (len != n) throw new IllegalArgumentException("corrupt batch sampler state: permutation of " + len + " items for " + n);
                q = new long[len];
                for (int i = 0; i < len; i++) {
                    q[i] = in.readLong();
                    if (q[i] < 0 || q[i] >= n) throw new IllegalArgumentException("corrupt batch sampler state: index " + q[i]);
                }
            }
            if (p < 0 || p > n || e < 0 || (q == null && p != n)) throw new IllegalArgumentException("corrupt batch sampler state");
            if (in.read() != -1) throw new IllegalArgumentException("corrupt batch sampler state: trailing bytes");
            perm = q;
            pos = p;
            epoch = e;
        } catch (IOException e) {
            throw new IllegalArgumentException("truncated batch sampler state", e);
        }
    }

    /** Nothing native to free; present so a sampler can sit in try-with-resources beside its data. */
    @Override
    public void close() {
        perm = null;
    }
}
