package dev.diffinstruct.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The end-to-end claim at test size: a short {@code distill} of the committed Fashion-MNIST
 * teacher lowers the one-step generator's FID (features.pt space, against the test split) below the
 * FID of the generator it started from, D(2.5 z, 2.5).
 */
class ImageDistillFidTest {
    @TempDir
    Path dir;

    private static double frechet(Cli r) {
        assertEquals(0, r.exitCode(), r.err());
        Matcher m = Pattern.compile("frechet distance \\(.*\\): ([0-9.eE+-]+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        return Double.parseDouble(m.group(1));
    }

    private static double fid(Path generator, Path features) {
        return frechet(Cli.run("eval", "--generator", generator.toString(), "--n", "500", "--seed", "7",
                "--reference", "fashion-mnist:test", "--features", features.toString()));
    }

    @Test
    void aShortDistillationOfTheCommittedTeacherLowersFid() {
        Path root = TrainTeacherCommandTest.repoRoot();
        Path teacher = root.resolve("assets/fashion-mnist/teacher.pt"), features = root.resolve("assets/fashion-mnist/features.pt");
        Assumptions.assumeTrue(Files.isRegularFile(teacher) && Files.isRegularFile(features), "no committed assets");
        Assumptions.assumeTrue(TrainTeacherCommandTest.haveFashionMnist(), "Fashion-MNIST is not installed");

        // one fake-score-only step leaves the generator as it was built: the initial one-step copy
        Path init = dir.resolve("init"), trained = dir.resolve("trained");
        Cli r0 = Cli.run("distill", "--teacher", teacher.toString(), "--out", init.toString(), "--steps", "1", "--warmup-fake", "1",
                "--batch", "4", "--quiet");
        assertEquals(0, r0.exitCode(), r0.err());
        Cli r1 = Cli.run("distill", "--teacher", teacher.toString(), "--out", trained.toString(), "--steps", "200", "--batch", "16",
                "--quiet");
        assertEquals(0, r1.exitCode(), r1.err());

        double before = fid(init.resolve("generator.pt"), features), after = fid(trained.resolve("generator.pt"), features);
        System.out.printf("FID (500 samples) of the one-step generator: %.1f before, %.1f after 200 steps%n", before, after);
        assertTrue(after < 0.8 * before, "FID before " + before + ", after 200 steps " + after);
    }
}
