package dev.diffinstruct.trainer.data;

import dev.diffinstruct.trainer.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdxReaderTest {
    @TempDir
    Path dir;

    static byte[] idx(int type, int[] dims, byte[] data) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0);
        b.write(0);
        b.write(type);
        b.write(dims.length);
        for (int d : dims) {
            b.write(d >>> 24);
            b.write(d >>> 16);
            b.write(d >>> 8);
            b.write(d);
        }
        b.writeBytes(data);
        return b.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(b)) {
            g.write(raw);
        }
        return b.toByteArray();
    }

    static byte[] sample() {
        byte[] data = new byte[2 * 3 * 4];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 11);
        return data;
    }

    @Test
    void readsPlainAndGzippedFilesAlike() throws IOException {
        byte[] raw = idx(0x08, new int[] {2, 3, 4}, sample());
        Path plain = Files.write(dir.resolve("a-idx3-ubyte"), raw);
        Path gz = Files.write(dir.resolve("b.bin"), gzip(raw)); // detected from the bytes, not the name
        for (Path p : new Path[] {plain, gz}) {
            IdxReader.Idx r = IdxReader.read(p);
            assertArrayEquals(new int[] {2, 3, 4}, r.dims());
            assertArrayEquals(sample(), r.data());
            assertEquals(2, r.count());
        }
    }

    @Test
    void truncatedDataNamesTheFileAndTheSizes() throws IOException {
        byte[] raw = idx(0x08, new int[] {2, 3, 4}, sample());
        Path p = Files.write(dir.resolve("cut-idx3-ubyte"), Arrays.copyOf(raw, raw.length - 5));
        var e = assertThrows(InvalidInputException.class, () -> IdxReader.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("24") && e.getMessage().contains("19"), e.getMessage());
    }

    @Test
    void truncatedGzipIsReported() throws IOException {
        byte[] gz = gzip(idx(0x08, new int[] {1000}, new byte[1000]));
        Path p = Files.write(dir.resolve("cut.gz"), Arrays.copyOf(gz, gz.length / 2));
        var e = assertThrows(InvalidInputException.class, () -> IdxReader.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptGzipIsReported() throws IOException {
        byte[] gz = gzip(idx(0x08, new int[] {1000}, sample()));
        for (int i = 12; i < gz.length - 8; i++) gz[i] ^= (byte) 0x5a;
        Path p = Files.write(dir.resolve("corrupt.gz"), gz);
        var e = assertThrows(InvalidInputException.class, () -> IdxReader.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
    }

    @Test
    void badMagicOtherTypesAndTrailingBytesAreRefused() throws IOException {
        Path png = Files.write(dir.resolve("x.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        assertTrue(assertThrows(InvalidInputException.class, () -> IdxReader.read(png)).getMessage().contains("bad magic"));

        Path floats = Files.write(dir.resolve("f"), idx(0x0D, new int[] {1}, new byte[4]));
        assertTrue(assertThrows(InvalidInputException.class, () -> IdxReader.read(floats)).getMessage().contains("0x0d (float)"));

        Path extra = Files.write(dir.resolve("e"), idx(0x08, new int[] {2}, new byte[3]));
        assertTrue(assertThrows(InvalidInputException.class, () -> IdxReader.read(extra)).getMessage().contains("data after"));

        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertTrue(assertThrows(InvalidInputException.class, () -> IdxReader.read(empty)).getMessage().contains("empty"));

        Path shortHeader = Files.write(dir.resolve("h"), new byte[] {0, 0, 8, 3, 0, 0, 0, 2});
        assertTrue(assertThrows(InvalidInputException.class, () -> IdxReader.read(shortHeader)).getMessage().contains("header"));

        Path missing = dir.resolve("nope.gz");
        var e = assertThrows(InvalidInputException.class, () -> IdxReader.read(missing));
        assertEquals(missing + ": no such file", e.getMessage());
    }
}
