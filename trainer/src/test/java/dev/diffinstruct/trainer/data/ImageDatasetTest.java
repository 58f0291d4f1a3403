package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageDatasetTest {
    @TempDir
    Path dir;

    static boolean haveFashionMnist() {
        return Files.isRegularFile(ImageDataset.fashionMnistDir().resolve("t10k-labels-idx1-ubyte.gz"))
                || Files.isRegularFile(ImageDataset.fashionMnistDir().resolve("t10k-labels-idx1-ubyte"));
    }

    private static void checkFashionMnist(ImageDataset d, long n) {
        assertEquals(n, d.size());
        assertArrayEquals(new long[] {n, 1, 28, 28}, d.images().shape());
        assertEquals(DType.FLOAT32, d.images().dtype());
        assertEquals(DType.INT64, d.labels().dtype());
        assertArrayEquals(new long[] {n}, d.labels().shape());
        assertEquals(10, d.numClasses());
        try (Scope s = Scope.open()) {
            assertEquals(-1.0, d.images().min().item());
            assertEquals(1.0, d.images().max().item());
            assertEquals(0, d.labels().min().item());
            assertEquals(9, d.labels().max().item());
            // Fashion-MNIST is balanced: n / 10 of every class
            long[] counts = d.labels().bincount(10).toLongArray();
            for (long c : counts) assertEquals(n / 10, c);
        }
    }

    @Test
    void readsTheRealFashionMnistTrainAndTestSplits() {
        Assumptions.assumeTrue(haveFashionMnist(), "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        try (Scope s = Scope.open()) {
            ImageDataset test = ImageDataset.load("fashion-mnist:test");
            checkFashionMnist(test, 10_000);
            assertTrue(test.source().startsWith("fashion-mnist:test"));
            // the first test image is an ankle boot (label 9)
            assertEquals(9, test.labels().get(0).item());
            ImageDataset train = ImageDataset.load("fashion-mnist");
            checkFashionMnist(train, 60_000);
            assertEquals(9, train.labels().get(0).item()); // the first training image is an ankle boot too
            assertEquals(train.size(), ImageDataset.load("fashion-mnist:train").size());
        }
    }

    @Test
    void missingFashionMnistFolderAndUnknownSplitAreClearErrors() {
        var e = assertThrows(InvalidInputException.class, () -> ImageDataset.fashionMnist("test", dir.resolve("absent")));
        assertTrue(e.getMessage().contains("FASHION_MNIST_DIR"), e.getMessage());
        var e2 = assertThrows(InvalidInputException.class, () -> ImageDataset.fashionMnist("test", dir));
        assertTrue(e2.getMessage().contains("t10k-images-idx3-ubyte.gz"), e2.getMessage());
        var e3 = assertThrows(InvalidInputException.class, () -> ImageDataset.load("fashion-mnist:val"));
        assertTrue(e3.getMessage().contains("fashion-mnist:test"), e3.getMessage());
    }

    @Test
    void truncatedFashionMnistFileNamesTheFile() throws IOException {
        Assumptions.assumeTrue(haveFashionMnist(), "Fashion-MNIST is not installed");
        Path src = ImageDataset.fashionMnistDir();
        Path copy = Files.createDirectory(dir.resolve("fm"));
        Files.copy(src.resolve("t10k-labels-idx1-ubyte.gz"), copy.resolve("t10k-labels-idx1-ubyte.gz"));
        byte[] img = Files.readAllBytes(src.resolve("t10k-images-idx3-ubyte.gz"));
        Path cut = copy.resolve("t10k-images-idx3-ubyte.gz");
        Files.write(cut, java.util.Arrays.copyOf(img, img.length / 3));
        var e = assertThrows(InvalidInputException.class, () -> ImageDataset.fashionMnist("test", copy));
        assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void labelCountMustMatchImageCount() throws IOException {
        Path fm = Files.createDirectory(dir.resolve("fm"));
        Files.write(fm.resolve("t10k-images-idx3-ubyte"), IdxReaderTest.idx(8, new int[] {3, 2, 2}, new byte[12]));
        Path labels = Files.write(fm.resolve("t10k-labels-idx1-ubyte"), IdxReaderTest.idx(8, new int[] {2}, new byte[2]));
        var e = assertThrows(InvalidInputException.class, () -> ImageDataset.fashionMnist("test", fm));
        assertTrue(e.getMessage().startsWith(labels.toString()) && e.getMessage().contains("2 labels for 3 images"), e.getMessage());
        Files.write(labels, IdxReaderTest.idx(8, new int[] {3}, new byte[] {0, 12, 1}));
        var e2 = assertThrows(InvalidInputException.class, () -> ImageDataset.fashionMnist("test", fm));
        assertTrue(e2.getMessage().contains("label 12 at index 1"), e2.getMessage());
    }

    // ---- PNG folders -------------------------------------------------------------------------

    private static Path gray(Path f, int w, int h, int seed) throws IOException {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) im.getRaster().setSample(x, y, 0, (seed * 37 + y * w + x) % 256);
        Files.createDirectories(f.getParent());
        ImageIO.write(im, "png", f.toFile());
        return f;
    }

    @Test
    void unlabelledGrayPngFolderKeepsExactGrayLevels() throws IOException {
        Path f = dir.resolve("png");
        gray(f.resolve("b.png"), 4, 3, 1);
        gray(f.resolve("a.png"), 4, 3, 0);
        BufferedImage full = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        full.getRaster().setSample(0, 0, 0, 0);
        full.getRaster().setSample(1, 0, 0, 255);
        Files.writeString(f.resolve("notes.txt"), "ignored");
        try (Scope s = Scope.open()) {
            ImageDataset d = ImageDataset.load(f.toString());
            assertArrayEquals(new long[] {2, 1, 3, 4}, d.images().shape());
            assertFalse(d.hasLabels());
            assertNull(d.labels());
            float[] v = d.images().toFloatArray();
            // a.png first (sorted names): pixel (y, x) of image seed 0 holds (y * 4 + x) % 256
            for (int i = 0; i < 12; i++) assertEquals(i / 127.5f - 1f, v[i], 1e-6);
            for (int i = 0; i < 12; i++) assertEquals((37 + i) / 127.5f - 1f, v[12 + i], 1e-6);
        }
        Path two = dir.resolve("two");
        Files.createDirectories(two);
        ImageIO.write(full, "png", two.resolve("x.png").toFile());
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[] {-1f, 1f}, ImageDataset.load(two.toString()).images().toFloatArray());
        }
    }

    @Test
    void labelledPngFolderTakesClassesFromSubFolders() throws IOException {
        Path f = dir.resolve("classes");
        gray(f.resolve("cat/1.png"), 5, 5, 0);
        gray(f.resolve("cat/2.png"), 5, 5, 1);
        gray(f.resolve("ant/1.png"), 5, 5, 2);
        Files.createDirectories(f.resolve("empty"));
        try (Scope s = Scope.open()) {
            ImageDataset d = ImageDataset.load(f.toString());
            assertEquals(List.of("ant", "cat"), d.classNames());
            assertArrayEquals(new long[] {0, 1, 1}, d.labels().toLongArray());
            assertArrayEquals(new long[] {3, 1, 5, 5}, d.images().shape());
        }
    }

    @Test
    void rgbPngsGiveThreeChannelsAndGrayOnesAreWidenedBesideThem() throws IOException {
        Path f = dir.resolve("rgb");
        Files.createDirectories(f);
        BufferedImage im = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        im.setRGB(0, 0, 0xff0080);
        im.setRGB(1, 0, 0x00ff00);
        ImageIO.write(im, "png", f.resolve("a.png").toFile());
        BufferedImage g = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(0, 0, 0, 255);
        ImageIO.write(g, "png", f.resolve("b.png").toFile());
        try (Scope s = Scope.open()) {
            ImageDataset d = ImageDataset.load(f.toString());
            assertArrayEquals(new long[] {2, 3, 1, 2}, d.images().shape());
            float h = 128 / 127.5f - 1f;
            assertArrayEquals(new float[] {1, -1, -1, 1, h, -1, /* gray */ 1, -1, 1, -1, 1, -1}, d.images().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void badPngFoldersNameTheFile() throws IOException {
        Path f = dir.resolve("sizes");
        gray(f.resolve("a.png"), 4, 4, 0);
        Path b = gray(f.resolve("b.png"), 4, 5, 0);
        var e = assertThrows(InvalidInputException.class, () -> ImageDataset.load(f.toString()));
        assertTrue(e.getMessage().startsWith(b.toString()) && e.getMessage().contains("same size"), e.getMessage());

        Path g = dir.resolve("garbage");
        gray(g.resolve("a.png"), 4, 4, 0);
        Path junk = Files.writeString(g.resolve("b.png"), "not a png");
        var e2 = assertThrows(InvalidInputException.class, () -> ImageDataset.load(g.toString()));
        assertTrue(e2.getMessage().startsWith(junk.toString()), e2.getMessage());

        Path none = Files.createDirectories(dir.resolve("none"));
        assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(none.toString())).getMessage().contains("no PNG"));

        Path mixed = dir.resolve("mixed");
        gray(mixed.resolve("a.png"), 4, 4, 0);
        gray(mixed.resolve("c/b.png"), 4, 4, 0);
        assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(mixed.toString())).getMessage().contains("both"));
    }

    // ---- .npy ------------------------------------------------------------------------------------

    @Test
    void npyUint8IsScaledAndFloatIsTakenAsIs() {
        Path u8 = dir.resolve("u8.npy"), f32 = dir.resolve("f32.npy"), hw = dir.resolve("hw.npy");
        try (Scope s = Scope.open()) {
            Npy.write(u8, Tensor.of(new byte[] {0, (byte) 255, (byte) 128, 1, 2, 3}, 2, 1, 1, 3));
            Npy.write(f32, Tensor.of(new float[] {-1f, 0.25f, 1f, 0f}, 1, 1, 2, 2));
            Npy.write(hw, Tensor.of(new double[] {-0.5, 0.5}, 2, 1, 1));
            ImageDataset a = ImageDataset.load(u8.toString());
            assertArrayEquals(new long[] {2, 1, 1, 3}, a.images().shape());
            float[] v = a.images().toFloatArray();
            assertEquals(-1f, v[0]);
            assertEquals(1f, v[1]);
            assertEquals(128 / 127.5f - 1f, v[2], 1e-7f);
            assertFalse(a.hasLabels());
            ImageDataset b = ImageDataset.load(f32.toString());
            assertArrayEquals(new float[] {-1f, 0.25f, 1f, 0f}, b.images().toFloatArray());
            ImageDataset c = ImageDataset.load(hw.toString());
            assertArrayEquals(new long[] {2, 1, 1, 1}, c.images().shape());
            assertEquals(DType.FLOAT32, c.images().dtype());
        }
    }

    @Test
    void badNpyInputsAreClearErrors() throws IOException {
        try (Scope s = Scope.open()) {
            Path range = dir.resolve("range.npy");
            Npy.write(range, Tensor.of(new float[] {0f, 200f}, 1, 1, 1, 2));
            var e = assertThrows(InvalidInputException.class, () -> ImageDataset.load(range.toString()));
            assertTrue(e.getMessage().startsWith(range.toString()) && e.getMessage().contains("[-1, 1]") && e.getMessage().contains("uint8"), e.getMessage());

            Path nan = dir.resolve("nan.npy");
            Npy.write(nan, Tensor.of(new float[] {0f, Float.NaN}, 1, 1, 1, 2));
            assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(nan.toString())).getMessage().contains("NaN"));

            Path nhwc = dir.resolve("nhwc.npy");
            Npy.write(nhwc, Tensor.zeros(2, 28, 28, 1));
            assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(nhwc.toString())).getMessage().contains("[N, H, W, C]"));

            Path flat = dir.resolve("flat.npy");
            Npy.write(flat, Tensor.zeros(4, 784));
            assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(flat.toString())).getMessage().contains("[N, C, H, W]"));

            Path ints = dir.resolve("ints.npy");
            Npy.write(ints, Tensor.of(new long[] {1, 2}, 1, 1, 1, 2));
            assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(ints.toString())).getMessage().contains("INT64"));

            Path garbage = Files.writeString(dir.resolve("garbage.npy"), "hello");
            var g = assertThrows(InvalidInputException.class, () -> ImageDataset.load(garbage.toString()));
            assertTrue(g.getMessage().contains(garbage.toString()), g.getMessage());
        }
        Path missing = dir.resolve("missing.npy");
        assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(missing.toString())).getMessage().startsWith(missing + ": no such"));
        Path txt = Files.writeString(dir.resolve("x.txt"), "x");
        assertTrue(assertThrows(InvalidInputException.class, () -> ImageDataset.load(txt.toString())).getMessage().contains("not a dataset"));
    }
}
