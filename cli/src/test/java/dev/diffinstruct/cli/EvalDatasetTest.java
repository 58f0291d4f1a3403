package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.data.ImageDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code eval --reference fashion-mnist:test --features assets/fashion-mnist/features.pt}. */
class EvalDatasetTest {
    @TempDir
    Path dir;

    private static double frechet(String out) {
        Matcher m = Pattern.compile("frechet distance \\(.*\\): ([0-9.eE+-]+)").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void realImagesAreFarCloserToTheTestSetThanNoise() {
        Path features = Path.of(System.getProperty("repo.root", "..")).resolve("assets/fashion-mnist/features.pt");
        Path real = dir.resolve("real.npy"), noise = dir.resolve("noise.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(0)) {
            ImageDataset train = ImageDataset.load("fashion-mnist");
            Npy.write(real, train.images().slice(0, 1000));
            Npy.write(noise, Tensor.rand(g, 1000, 1, 28, 28).mul(2).sub(1));
        }
        Cli r1 = Cli.run("eval", "--samples", real.toString(), "--reference", "fashion-mnist:test", "--features", features.toString());
        assertEquals(0, r1.exitCode(), r1.err());
        // 1,000 + 10,000 images: a long eval says what it is doing (on stderr), not 30 s of silence
        assertTrue(r1.err().contains("features of 1000 samples and 10000 reference images") && r1.err().contains("precision/recall: 3-NN"), r1.err());
        Cli r2 = Cli.run("eval", "--samples", noise.toString(), "--reference", "fashion-mnist:test", "--features", features.toString());
        assertEquals(0, r2.exitCode(), r2.err());
        double fReal = frechet(r1.out()), fNoise = frechet(r2.out());
        assertTrue(fReal * 10 < fNoise, "real " + fReal + " vs noise " + fNoise);
    }

    private static double[] labelAccuracy(String out) {
        Matcher m = Pattern.compile("label accuracy \\(.*\\): samples ([0-9.]+), reference ([0-9.]+)").matcher(out);
        assertTrue(m.find(), out);
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    @Test
    void labelAccuracyTellsTrueLabelsFromWrongOnes() {
        Path features = Path.of(System.getProperty("repo.root", "..")).resolve("assets/fashion-mnist/features.pt");
        Path real = dir.resolve("real.npy"), wrong = dir.resolve("wrong.npy"), few = dir.resolve("few.npy");
        try (Scope s = Scope.open()) {
            ImageDataset train = ImageDataset.load("fashion-mnist");
            Npy.write(real, train.images().slice(0, 1000));
            Tensor y = train.labels().slice(0, 1000);
            Npy.write(CliIo.labelsPath(real), y);                     // picked up beside real.npy
            Npy.write(wrong, y.add(1).sub(y.add(1).div(10).floor().mul(10)));   // (y + 1) mod 10, as float
            Npy.write(few, y.slice(0, 999));
        }
        Cli right = Cli.run("eval", "--samples", real.toString(), "--reference", "fashion-mnist:test", "--features", features.toString());
        assertEquals(0, right.exitCode(), right.err());
        double[] acc = labelAccuracy(right.out());
        assertTrue(acc[0] > 0.9, right.out());
        // the reference's accuracy is the classifier's test accuracy, which PyTorch measured at training time
        assertEquals(0.9243, acc[1], 5e-4, right.out());

        Cli shifted = Cli.run("eval", "--samples", real.toString(), "--labels", wrong.toString(), "--reference", "fashion-mnist:test",
                "--features", features.toString());
        assertEquals(0, shifted.exitCode(), shifted.err());
        assertTrue(labelAccuracy(shifted.out())[0] < 0.15, shifted.out());

        Cli bad = Cli.run("eval", "--samples", real.toString(), "--labels", few.toString(), "--reference", "fashion-mnist:test",
                "--features", features.toString());
        assertEquals(2, bad.exitCode(), bad.out());
        assertTrue(bad.err().contains("must hold 1000 labels"), bad.err());
    }

    @Test
    void anUnknownReferenceIsOneLineAndExitCode2() {
        Cli r = Cli.run("eval", "--samples", dir.resolve("x.npy").toString(), "--reference", "fashion-mnist:valid");
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
    }
}
