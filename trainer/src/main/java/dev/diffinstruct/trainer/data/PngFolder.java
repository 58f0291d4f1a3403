package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/** Reads a folder of PNG images into an {@link ImageDataset} (javax.imageio, no native code). */
final class PngFolder {
    private PngFolder() {}

    /**
     * A folder of PNGs (unlabelled), or a folder of sub-folders of PNGs (labelled by sub-folder,
     * classes in sorted name order). Files are read in sorted name order; other files are ignored.
     * Grayscale images give C = 1, RGB give C = 3 (alpha is dropped); a folder mixing both is read
     * as RGB.
     */
    static ImageDataset load(Path dir) {
        List<Path> top = pngsIn(dir);
        List<Path> subdirs = listSorted(dir).stream()
                .filter(Files::isDirectory)
                .filter(p -> !p.getFileName().toString().startsWith("."))
                .filter(p -> !pngsIn(p).isEmpty())
                .toList();
        if (!top.isEmpty() && !subdirs.isEmpty())
            throw new InvalidInputException(dir + ": holds both PNG files and sub-folders of PNGs; put every image in a class"
                    + " sub-folder (labelled) or all directly in the folder (unlabelled)");
        List<Path> files = new ArrayList<>();
        List<Integer> labelList = new ArrayList<>();
        List<String> classes = new ArrayList<>();
        if (!top.isEmpty()) {
            files.addAll(top);
        } else if (!subdirs.isEmpty()) {
            for (int c = 0; c < subdirs.size(); c++) {
                classes.add(subdirs.get(c).getFileName().toString());
                for (Path f : pngsIn(subdirs.get(c))) {
                    files.add(f);
                    labelList.add(c);
                }
            }
        } else {
            throw new InvalidInputException(dir + ": no PNG files in the folder or its sub-folders");
        }

        int n = files.size();
        byte[][] pixels = new byte[n][];
        boolean[] rgb = new boolean[n];
        int w = -1, h = -1;
        Path first = null;
        boolean anyRgb = false;
        for (int i = 0; i < n; i++) {
            Path f = files.get(i);
            BufferedImage im = readPng(f);
            if (first == null) {
                first = f;
                w = im.getWidth();
                h = im.getHeight();
            } else if (im.getWidth() != w || im.getHeight() != h) {
                throw new InvalidInputException(f + ": is " + im.getWidth() + "x" + im.getHeight() + " but " + first + " is " + w + "x" + h
                        + "; all images must have the same size");
            }
            rgb[i] = !isGray(im);
            anyRgb |= rgb[i];
            pixels[i] = rgb[i] ? rgbPlanes(im) : grayPlane(im);
        }
        int c = anyRgb ? 3 : 1;
        int plane = w * h;
        byte[] all = new byte[Math.multiplyExact(Math.multiplyExact(n, c), plane)];
        for (int i = 0; i < n; i++) {
            int off = i * c * plane;
            if (c == 1 || rgb[i]) {
                System.arraycopy(pixels[i], 0, all, off, c * plane);
            } else {
                for (int k = 0; k < 3; k++) System.arraycopy(pixels[i], 0, all, off + k * plane, plane);
            }
            pixels[i] = null;
        }
        try (Scope sc = Scope.open()) {
            Tensor x = sc.keep(ImageDataset.scaleBytes(all, n, c, h, w));
            Tensor y = null;
            if (!classes.isEmpty()) {
                long[] lab = labelList.stream().mapToLong(Integer::longValue).toArray();
                y = sc.keep(Tensor.of(lab, n));
            }
            return new ImageDataset(x, y, classes, dir.toString());
        }
    }

    private static List<Path> listSorted(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new InvalidInputException(dir + ": cannot list the folder: " + e.getMessage(), e);
        }
    }

    private static List<Path> pngsIn(Path dir) {
        return listSorted(dir).stream()
                .filter(p -> {
                    String name = p.getFileName().toString();
                    return !name.startsWith(".") && name.toLowerCase(Locale.ROOT).endsWith(".png") && Files.isRegularFile(p);
                })
                .toList();
    }

    private static BufferedImage readPng(Path f) {
        BufferedImage im;
        try {
            im = ImageIO.read(f.toFile());
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException(f + ": not a readable PNG: " + e.getMessage(), e);
        }
        if (im == null) throw new InvalidInputException(f + ": not a readable PNG (no image decoder accepts it)");
        return im;
    }

    private static boolean isGray(BufferedImage im) {
        if (im.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY) return true;
        if (im.getColorModel() instanceof IndexColorModel icm) {
            for (int i = 0; i < icm.getMapSize(); i++)
                if (icm.getRed(i) != icm.getGreen(i) || icm.getRed(i) != icm.getBlue(i)) return false;
            return true;
        }
        return false;
    }

    /** Gray levels 0..255, read from the raster (getRGB would apply a gamma conversion to gray images). */
    private static byte[] grayPlane(BufferedImage im) {
        int w = im.getWidth(), h = im.getHeight();
        byte[] out = new byte[w * h];
        if (im.getColorModel() instanceof IndexColorModel) {
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) out[y * w + x] = (byte) ((im.getRGB(x, y) >> 16) & 0xff);
            return out;
        }
        Raster r = im.getRaster();
        int bits = im.getColorModel().getComponentSize(0);
        int max = (1 << bits) - 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = r.getSample(x, y, 0);
                out[y * w + x] = (byte) (bits == 8 ? v : Math.round(v * 255.0 / max));
            }
        return out;
    }

    /** R, G and B planes (C order [3, H, W]); alpha is dropped. */
    private static byte[] rgbPlanes(BufferedImage im) {
        int w = im.getWidth(), h = im.getHeight(), plane = w * h;
        byte[] out = new byte[3 * plane];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int argb = im.getRGB(x, y);
                int i = y * w + x;
                out[i] = (byte) ((argb >> 16) & 0xff);
                out[plane + i] = (byte) ((argb >> 8) & 0xff);
                out[2 * plane + i] = (byte) (argb & 0xff);
            }
        return out;
    }
}
