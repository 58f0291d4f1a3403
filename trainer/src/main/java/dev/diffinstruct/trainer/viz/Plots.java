package dev.diffinstruct.trainer.viz;

import dev.diffinstruct.torch.AtomicFiles;
import dev.diffinstruct.torch.Tensor;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** PNG pictures drawn with plain Java imaging (headless): scatter plots of 2-D samples and image grids. */
public final class Plots {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final int PANEL = 360;
    private static final int TITLE = 28;
    private static final Color BG = new Color(250, 250, 250);
    private static final Color[] PALETTE = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44),
            new Color(148, 103, 189), new Color(255, 127, 14)};

    private Plots() {}

    /** One panel of a scatter plot: n points as xy = [x0, y0, x1, y1, ...]. */
    public record Panel(String title, float[] xy) {
        public static Panel of(String title, Tensor points) {
            long[] s = points.shape();
            if (s.length != 2 || s[1] < 2)
                throw new IllegalArgumentException("a scatter plot needs [N, 2] points, got " + Arrays.toString(s));
            try (Tensor xy = points.narrow(1, 0, 2).contiguous()) {
                return new Panel(title, xy.toFloatArray());
            }
        }
    }

    /**
     * Panels side by side on one shared square range, so they can be compared by eye;
     * {@code marks} (may be null) are drawn as rings in every panel, e.g. the true modes.
     */
    public static void scatter(Path out, List<Panel> panels, float[] marks) {
        float lim = 0;
        for (Panel p : panels) for (float v : p.xy()) if (Float.isFinite(v)) lim = Math.max(lim, Math.abs(v));
        if (marks != null) for (float v : marks) lim = Math.max(lim, Math.abs(v));
        lim = lim == 0 ? 1 : lim * 1.08f;
        BufferedImage im = new BufferedImage(PANEL * panels.size(), PANEL + TITLE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(im);
        for (int i = 0; i < panels.size(); i++) {
            Panel p = panels.get(i);
            int x0 = i * PANEL;
            g.setColor(Color.WHITE);
            g.fillRect(x0 + 4, TITLE, PANEL - 8, PANEL - 4);
            g.setColor(new Color(225, 225, 225));
            g.drawLine(x0 + PANEL / 2, TITLE, x0 + PANEL / 2, TITLE + PANEL - 4);
            g.drawLine(x0 + 4, TITLE + PANEL / 2, x0 + PANEL - 4, TITLE + PANEL / 2);
            title(g, p.title(), x0, PANEL);
            Color c = PALETTE[i % PALETTE.length];
            g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 90));
            float scale = (PANEL - 12) / (2 * lim);
            float[] xy = p.xy();
            for (int k = 0; k + 1 < xy.length; k += 2) {
                if (!Float.isFinite(xy[k]) || !Float.isFinite(xy[k + 1])) continue;
                int px = Math.round(x0 + PANEL / 2f + xy[k] * scale);
                int py = Math.round(TITLE + (PANEL - 4) / 2f - xy[k + 1] * scale);
                g.fillOval(px - 2, py - 2, 4, 4);
            }
            if (marks != null) {
                g.setColor(Color.BLACK);
                g.setStroke(new BasicStroke(1.2f));
                for (int k = 0; k + 1 < marks.length; k += 2) {
                    int px = Math.round(x0 + PANEL / 2f + marks[k] * scale);
                    int py = Math.round(TITLE + (PANEL - 4) / 2f - marks[k + 1] * scale);
                    g.drawOval(px - 6, py - 6, 12, 12);
                }
            }
        }
        g.dispose();
        write(im, out);
    }

    /** One titled grid of images [N, C, H, W] (C = 1 or 3) with values in [-1, 1]. */
    public record Grid(String title, Tensor images) {}

    /** Grids side by side, each {@code cols} images wide. */
    public static void imageGrids(Path out, List<Grid> grids, int cols) {
        int gap = 2, margin = 8;
        int[] widths = new int[grids.size()];
        int height = 0;
        float[][] data = new float[grids.size()][];
        long[][] shapes = new long[grids.size()][];
        for (int i = 0; i < grids.size(); i++) {
            long[] s = grids.get(i).images().shape();
            if (s.length != 4 || (s[1] != 1 && s[1] != 3))
                throw new IllegalArgumentException("an image grid needs [N, 1 or 3, H, W], got " + Arrays.toString(s));
            shapes[i] = s;
            data[i] = grids.get(i).images().toFloatArray();
            int z = zoom(s[2]);
            int n = (int) s[0], h = (int) s[2] * z, w = (int) s[3] * z;
            int c = Math.min(cols, n), r = (n + cols - 1) / cols;
            widths[i] = Math.max(c * (w + gap) + gap, 120);
            height = Math.max(height, r * (h + gap) + gap);
        }
        int total = margin;
        for (int w : widths) total += w + margin;
        BufferedImage im = new BufferedImage(total, height + TITLE + margin, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(im);
        int x0 = margin;
        for (int i = 0; i < grids.size(); i++) {
            title(g, grids.get(i).title(), x0, widths[i]);
            long[] s = shapes[i];
            int n = (int) s[0], ch = (int) s[1], h = (int) s[2], w = (int) s[3], z = zoom(h);
            float[] d = data[i];
            for (int k = 0; k < n; k++) {
                int ox = x0 + gap + (k % cols) * (w * z + gap), oy = TITLE + gap + (k / cols) * (h * z + gap);
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int rgb = 0;
                        for (int c = 0; c < 3; c++) {
                            float v = d[((k * ch + (ch == 1 ? 0 : c)) * h + y) * w + x];
                            int b = Math.round((Math.max(-1f, Math.min(1f, Float.isFinite(v) ? v : 0f)) + 1f) * 127.5f);
                            rgb = (rgb << 8) | b;
                        }
                        for (int dy = 0; dy < z; dy++)
                            for (int dx = 0; dx < z; dx++) im.setRGB(ox + x * z + dx, oy + y * z + dy, rgb);
                    }
                }
            }
            x0 += widths[i] + margin;
        }
        g.dispose();
        write(im, out);
    }

    // Small images (MNIST's 28x28) are enlarged so that a grid is readable.
    private static int zoom(long h) {
        return h <= 32 ? 3 : h <= 64 ? 2 : 1;
    }

    private static Graphics2D canvas(BufferedImage im) {
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(BG);
        g.fillRect(0, 0, im.getWidth(), im.getHeight());
        return g;
    }

    private static void title(Graphics2D g, String text, int x0, int width) {
        g.setColor(new Color(40, 40, 40));
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        int w = g.getFontMetrics().stringWidth(text);
        g.drawString(text, x0 + Math.max(2, (width - w) / 2), 19);
    }

    private static void write(BufferedImage im, Path out) {
        try {
            AtomicFiles.write(out, tmp -> {
                if (!ImageIO.write(im, "png", tmp.toFile())) throw new IOException("no PNG writer");
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }
}
