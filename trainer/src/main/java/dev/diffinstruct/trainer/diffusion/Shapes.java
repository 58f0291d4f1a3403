package dev.diffinstruct.trainer.diffusion;

import java.util.Arrays;

/** Batch shapes: one sample's shape with a batch dimension put in front or taken off. */
public final class Shapes {
    private Shapes() {}

    /** [n, *shape]. */
    public static long[] prepend(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    /** shape without its first (batch) dimension. */
    public static long[] tail(long[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length);
    }
}
