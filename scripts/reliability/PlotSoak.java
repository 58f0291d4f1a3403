import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Draws soak.py's CSV (t_s, step, rss_mib, fds) as two panels over training steps: java PlotSoak.java in.csv out.png */
public class PlotSoak {
    public static void main(String[] args) throws Exception {
        List<double[]> rows = Files.readAllLines(Path.of(args[0])).stream().skip(1)
                .map(l -> java.util.Arrays.stream(l.split(",")).mapToDouble(Double::parseDouble).toArray()).toList();
        int w = 900, h = 640;
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(new Color(250, 250, 250));
        g.fillRect(0, 0, w, h);
        panel(g, rows, 2, "resident memory (MiB)", 70, 40, w - 110, 240, new Color(31, 119, 180));
        panel(g, rows, 3, "open file descriptors", 70, 360, w - 110, 240, new Color(214, 39, 40));
        g.dispose();
        javax.imageio.ImageIO.write(im, "png", new File(args[1]));
    }

    static void panel(Graphics2D g, List<double[]> rows, int col, String title, int x0, int y0, int pw, int ph, Color c) {
        double xmax = rows.stream().mapToDouble(r -> r[1]).max().orElse(1);
        double ymax = rows.stream().mapToDouble(r -> r[col]).max().orElse(1) * 1.15, ymin = 0;
        g.setColor(Color.DARK_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title + " vs training step", x0, y0 - 12);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawRect(x0, y0, pw, ph);
        for (int k = 0; k <= 4; k++) {
            double v = ymin + (ymax - ymin) * k / 4;
            int y = y0 + ph - (int) (ph * k / 4.0);
            g.setColor(new Color(225, 225, 225));
            g.drawLine(x0 + 1, y, x0 + pw - 1, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format("%.0f", v), x0 - 45, y + 4);
            long sx = Math.round(xmax * k / 4);
            g.drawString(String.valueOf(sx), x0 + (int) (pw * k / 4.0) - 15, y0 + ph + 16);
        }
        g.setColor(c);
        g.setStroke(new BasicStroke(2f));
        int px = -1, py = -1;
        for (double[] r : rows) {
            int x = x0 + (int) (pw * r[1] / xmax), y = y0 + ph - (int) (ph * (r[col] - ymin) / (ymax - ymin));
            if (px >= 0) g.drawLine(px, py, x, y);
            px = x;
            py = y;
        }
    }
}
