package dev.diffinstruct.trainer.data;

import dev.diffinstruct.trainer.InvalidInputException;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST format), gzipped or plain: the gzip magic is
 * detected from the bytes, not the name. Layout: two zero bytes, a type byte, a byte giving the
 * number of dimensions, each dimension as a big-endian int32, then the elements in C order. Only
 * unsigned bytes (type 0x08) are supported, which is what images and labels use.
 *
 * <p>Every problem (missing, corrupt, truncated, trailing data, another element type) is an
 * {@link InvalidInputException} whose message starts with the file's path.
 */
public final class IdxReader {
    /** Element type code of unsigned bytes. */
    public static final int UBYTE = 0x08;

    private IdxReader() {}

    /** A decoded IDX file: its dimensions and its elements (unsigned bytes in C order). */
    public record Idx(Path file, int[] dims, byte[] data) {
        public long[] shape() {
            return Arrays.stream(dims).asLongStream().toArray();
        }

        public int count() {
            return dims[0];
        }
    }

    public static Idx read(Path file) {
        if (!Files.exists(file)) throw bad(file, "no such file");
        if (Files.isDirectory(file)) throw bad(file, "is a folder, not an IDX file");
        boolean gz;
        try (InputStream raw = Files.newInputStream(file)) {
            byte[] head = raw.readNBytes(2);
            gz = head.length == 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b;
        } catch (NoSuchFileException e) {
            throw bad(file, "no such file");
        } catch (IOException e) {
            throw bad(file, "cannot read: " + e.getMessage());
        }
        try (InputStream in = open(file, gz)) {
            return parse(file, in, gz);
        } catch (EOFException e) {
            throw bad(file, "truncated gzip stream (the download or copy was cut short)");
        } catch (ZipException e) {
            throw bad(file, "corrupt gzip stream: " + e.getMessage());
        } catch (IOException e) {
            throw bad(file, "cannot read: " + e.getMessage());
        }
    }

    private static InputStream open(Path file, boolean gz) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        return gz ? new GZIPInputStream(in, 1 << 16) : in;
    }

    private static Idx parse(Path file, InputStream in, boolean gz) throws IOException {
        String what = gz ? " (after gunzip)" : "";
        byte[] magic = in.readNBytes(4);
        if (magic.length == 0) throw bad(file, "is empty" + what);
        if (magic.length < 4) throw bad(file, "truncated: " + magic.length + " bytes" + what + ", too short for an IDX header");
        if (magic[0] != 0 || magic[1] != 0)
            throw bad(file, String.format("not an IDX file: bad magic %02x %02x %02x %02x%s (expected 00 00 08 <dims>)",
                    magic[0] & 0xff, magic[1] & 0xff, magic[2] & 0xff, magic[3] & 0xff, what));
        int type = magic[2] & 0xff;
        int ndim = magic[3] & 0xff;
        if (type != UBYTE)
            throw bad(file, String.format("IDX element type 0x%02x (%s) is not supported; only unsigned bytes (0x08)", type, typeName(type)));
        if (ndim < 1 || ndim > 4) throw bad(file, "IDX header claims " + ndim + " dimensions; expected 1 to 4");
        byte[] dimBytes = in.readNBytes(4 * ndim);
        if (dimBytes.length < 4 * ndim) throw bad(file, "truncated IDX header: " + ndim + " dimensions announced, " + dimBytes.length / 4 + " present");
        int[] dims = new int[ndim];
        long n = 1;
        for (int i = 0; i < ndim; i++) {
            int d = ((dimBytes[4 * i] & 0xff) << 24) | ((dimBytes[4 * i + 1] & 0xff) << 16)
                    | ((dimBytes[4 * i + 2] & 0xff) << 8) | (dimBytes[4 * i + 3] & 0xff);
            if (d <= 0) throw bad(file, "IDX dimension " + i + " is " + Integer.toUnsignedString(d) + "; dims must be positive");
            dims[i] = d;
            n *= d;
            if (n > Integer.MAX_VALUE - 16) throw bad(file, "IDX dims " + Arrays.toString(dims) + " are too large (over 2 GB)");
        }
        byte[] data = in.readNBytes((int) n);
        if (data.length < n)
            throw bad(file, "truncated: dims " + Arrays.toString(dims) + " need " + n + " data bytes but the file" + what + " holds " + data.length);
        if (in.read() != -1) throw bad(file, "has data after the " + n + " bytes its dims " + Arrays.toString(dims) + " announce");
        return new Idx(file, dims, data);
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0x09 -> "signed byte";
            case 0x0B -> "short";
            case 0x0C -> "int";
            case 0x0D -> "float";
            case 0x0E -> "double";
            default -> "unknown";
        };
    }

    private static InvalidInputException bad(Path file, String why) {
        return new InvalidInputException(file + ": " + why);
    }
}
