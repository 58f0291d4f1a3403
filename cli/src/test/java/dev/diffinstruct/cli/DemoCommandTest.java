package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void shortDemoWritesEveryOutputAndCanRunAgain() throws Exception {
        Path out = dir.resolve("demo-out");
        Cli r = Cli.run("demo", "--steps", "150", "--out", out.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        for (String f : List.of("samples.png", "metrics.jsonl", "generator.pt", "generator_ema.pt", "config.json",
                "teacher_samples.npy", "generator_samples.npy"))
            assertTrue(Files.size(out.resolve(f)) > 0, f);
        assertTrue(r.out().contains("teacher, Heun 35 NFE") && r.out().contains("one-step generator, 1 NFE"), r.out());
        assertTrue(r.out().contains("faster than the teacher's Heun sampler"), r.out());

        BufferedImage png = ImageIO.read(out.resolve("samples.png").toFile());
        assertTrue(png.getWidth() > 3 * png.getHeight(), "four panels side by side: " + png.getWidth() + "x" + png.getHeight());
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertTrue(metrics.size() >= 2 && metrics.getLast().contains("\"step\":150"), metrics.getLast());
        try (Scope s = Scope.open(); ScriptModule g = ScriptModule.load(out.resolve("generator.pt"))) {
            assertArrayEquals(new long[] {16}, g.getIntList("latent_shape"));
            Tensor samples = Npy.read(out.resolve("generator_samples.npy"));
            assertArrayEquals(new long[] {DemoCommand.SAMPLES, 2}, samples.shape());
            assertTrue(samples.allFinite());
        }

        // a second demo in the same folder replaces the first instead of refusing
        Cli again = Cli.run("demo", "--steps", "20", "--out", out.toString(), "--quiet");
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(Files.readAllLines(out.resolve("metrics.jsonl")).getLast().contains("\"step\":20"));
    }

    @Test
    void imageDemoDistilsAnImageTeacherAndDrawsThreeGrids() throws Exception {
        Path unet = dir.resolve("unet.pt"), out = dir.resolve("img");
        TrainTeacherCommandTest.python("models/export_unet.py", "--out", unet.toString(), "--channels", "8", "--mults", "1,2", "--seed", "3");
        Cli r = Cli.run("demo", "--images", "--teacher", unet.toString(), "--steps", "3", "--batch", "4", "--data-shape", "1,28,28",
                "--out", out.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("teacher's Heun sampler: 32 samples"), r.out());
        BufferedImage png = ImageIO.read(out.resolve("samples.png").toFile());
        assertTrue(png.getWidth() > 3 * 8 * 84, "three grids of 8 enlarged images per row: " + png.getWidth());
        assertTrue(Files.size(out.resolve("generator.pt")) > 0);
    }

    @Test
    void imageDemoOfAClassConditionalTeacherDrawsOneClassPerColumn() throws Exception {
        Path unet = dir.resolve("unet-c.pt"), out = dir.resolve("img-c");
        TrainTeacherCommandTest.python("models/export_unet.py", "--out", unet.toString(), "--channels", "8", "--mults", "1,2", "--seed", "3",
                "--classes", "3");
        Cli r = Cli.run("demo", "--images", "--teacher", unet.toString(), "--classes", "3", "--steps", "3", "--batch", "4",
                "--data-shape", "1,28,28", "--out", out.toString(), "--quiet");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("teacher's Heun sampler: 12 samples"), r.out());
        BufferedImage png = ImageIO.read(out.resolve("samples.png").toFile());
        assertTrue(png.getWidth() > 3 * 3 * 84 && png.getWidth() < 3 * 8 * 84, "three grids of 3 columns: " + png.getWidth());
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"classes\": 3"));
        // the same teacher without --classes is refused with the fix in one line
        Cli plain = Cli.run("demo", "--images", "--teacher", unet.toString(), "--steps", "3", "--data-shape", "1,28,28",
                "--out", dir.resolve("img-x").toString(), "--quiet");
        assertEquals(2, plain.exitCode(), plain.out());
        assertEquals(1, plain.errLines(), plain.err());
    }

    @Test
    void imageDemoWithoutATeacherSaysWhatToGive() {
        Cli r = Cli.run("demo", "--images", "--teacher", dir.resolve("none.pt").toString(), "--out", dir.toString());
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
    }

    @Test
    void rejectsANonPositiveStepCount() {
        Cli r = Cli.run("demo", "--steps", "0", "--out", dir.toString());
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
    }
}
