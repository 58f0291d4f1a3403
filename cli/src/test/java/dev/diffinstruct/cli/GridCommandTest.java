package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GridCommandTest {
    @TempDir
    Path dir;

    @Test
    void drawsImageGridsSideBySide() throws Exception {
        Path a = dir.resolve("a.npy"), png = dir.resolve("g.png");
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            Npy.write(a, Tensor.rand(g, 10, 1, 28, 28).mul(2).sub(1));
        }
        Cli r = Cli.run("grid", a.toString(), a.toString(), "--out", png.toString(), "--cols", "5");
        assertEquals(0, r.exitCode(), r.err());
        BufferedImage im = ImageIO.read(png.toFile());
        // two grids of 5x2 images enlarged 3x: each at least 5 * 84 pixels wide
        assertTrue(im.getWidth() >= 2 * 5 * 84, "width " + im.getWidth());
        assertTrue(im.getHeight() >= 2 * 84, "height " + im.getHeight());
    }

    @Test
    void drawsAScatterPlotOfPoints() throws Exception {
        Path a = dir.resolve("p.npy"), png = dir.resolve("p.png");
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            Npy.write(a, Tensor.randn(g, 300, 2));
        }
        Cli r = Cli.run("grid", a.toString(), "-o", png.toString());
        assertEquals(0, r.exitCode(), r.err());
        BufferedImage im = ImageIO.read(png.toFile());
        int coloured = 0;
        for (int y = 0; y < im.getHeight(); y++)
            for (int x = 0; x < im.getWidth(); x++) {
                int rgb = im.getRGB(x, y);
                if (((rgb >> 16) & 0xff) < 200 && (rgb & 0xff) > 150) coloured++;
            }
        assertTrue(coloured > 300, "points drawn: " + coloured);
    }

    @Test
    void rejectsAnArrayOfTheWrongShape() {
        Path a = dir.resolve("bad.npy");
        try (Scope s = Scope.open()) {
            Npy.write(a, Tensor.zeros(4, 3, 2));
        }
        Cli r = Cli.run("grid", a.toString(), "-o", dir.resolve("x.png").toString());
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("bad.npy"), r.err());
    }

    @Test
    void refusesNonFiniteSamples() {
        Path a = dir.resolve("nan.npy");
        try (Scope s = Scope.open()) {
            Npy.write(a, Tensor.full(Double.NaN, 16, 2));
        }
        Path png = dir.resolve("nan.png");
        Cli r = Cli.run("grid", a.toString(), "-o", png.toString());
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("nan.npy: the samples contain NaN or infinite values"), r.err());
        assertEquals(1, r.errLines(), r.err());
        assertTrue(!java.nio.file.Files.exists(png), "no blank plot written");
    }
}
