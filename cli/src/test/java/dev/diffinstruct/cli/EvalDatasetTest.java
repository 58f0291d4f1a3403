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
        Cli r2 = Cli.run("eval", "--samples", noise.toString(), "--reference", "fashion-mnist:test", "--features", features.toString());
        assertEquals(0, r2.exitCode(), r2.err());
        double fReal = frechet(r1.out()), fNoise = frechet(r2.out());
        assertTrue(fReal * 10 < fNoise, "real " + fReal + " vs noise " + fNoise);
    }

    @Test
    void anUnknownReferenceIsOneLineAndExitCode2() {
        Cli r = Cli.run("eval", "--samples", dir.resolve("x.npy").toString(), "--reference", "fashion-mnist:valid");
        assertEquals(2, r.exitCode());
        assertEquals(1, r.errLines(), r.err());
    }
}
