package dev.diffinstruct.bench;

import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.Networks;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the benchmark cases: for each, the networks exactly as `diffinstruct distill` builds them
 * (Networks.resolve), saved as TorchScript files that the JMH benchmarks and the PyTorch twins both
 * load, and config.json naming them. The unet case needs its teacher.pt first (bench/compare.sh
 * exports it from Python). Usage: PrepareModels [case...]
 */
public final class PrepareModels {
    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--version")) { // which LibTorch the Java side maps (compare.sh prints it)
            System.out.println("libtorch " + dev.diffinstruct.torch.Torch.version() + ", " + dev.diffinstruct.torch.LibTorchInfo.source() + ", BLAS " + dev.diffinstruct.torch.LibTorchInfo.blas());
            return;
        }
        String[] cases = args.length > 0 ? args : new String[] {"mixture", "unet"};
        for (String name : cases) {
            Path dir = BenchCases.root().resolve(name);
            Files.createDirectories(dir);
            DistillConfig cfg = BenchCases.initialConfig(name, dir);
            try (Networks nets = Networks.resolve(cfg)) {
                if (!dir.resolve("teacher.pt").toFile().exists()) nets.teacher().save(dir.resolve("teacher.pt"));
                nets.generator().save(dir.resolve("generator.pt"));
                nets.fake().save(dir.resolve("fake.pt"));
                cfg.teacher = dir.resolve("teacher.pt").toString();
                cfg.generator = dir.resolve("generator.pt").toString();
                cfg.fake = dir.resolve("fake.pt").toString();
                cfg.latentShape = nets.latentShape();
                cfg.dataShape = nets.dataShape();
                Files.writeString(dir.resolve("config.json"), cfg.toJson());
            }
            System.err.println("prepared " + dir);
        }
    }
}
