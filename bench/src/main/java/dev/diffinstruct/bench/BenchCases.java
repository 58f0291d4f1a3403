package dev.diffinstruct.bench;

import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.distill.DistillRun;
import dev.diffinstruct.trainer.distill.Networks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training set-ups the benchmarks time, shared by Java (JMH) and the PyTorch twins: each case
 * is a folder holding teacher.pt, generator.pt, fake.pt and config.json (a {@link DistillConfig}
 * whose teacher/generator/fake name those files), written once by {@link PrepareModels}.
 */
public final class BenchCases {
    private BenchCases() {}

    /** Folder of the prepared cases: -Dbench.models, $BENCH_MODELS, or bench/target/models. */
    public static Path root() {
        String p = System.getProperty("bench.models", System.getenv("BENCH_MODELS"));
        return Path.of(p != null && !p.isBlank() ? p : "bench/target/models").toAbsolutePath();
    }

    /** The configuration of case {@code name} ("mixture", "unet" or "cifar"), before the files exist. */
    static DistillConfig initialConfig(String name, Path dir) {
        DistillConfig c;
        switch (name) {
            case "mixture" -> {
                // The demo's settings (built-in mixture teacher, built-in MLPs), every step a full one.
                c = DistillConfig.mixtureDefaults();
                c.warmupFake = 0;
                c.batch = 256;
            }
            case "unet" -> {
                // A conv UNet teacher (bench/unet_small.py or models/export_unet.py); the generator and
                // the fake score are made from it by the tool's defaults (one-step denoiser, copy).
                c = new DistillConfig();
                c.teacher = dir.resolve("teacher.pt").toString();
                c.dataShape = new long[] {1, 28, 28};
                c.batch = 32;
                c.emaHalflife = 500;
            }
            case "cifar" -> {
                // A CIFAR-10-sized EDM checkpoint as `diffinstruct import edm` writes it (DDPM++ SongUNet, VP,
                // 55.7 M parameters, unconditional so that train_step.py is its twin; bench/compare.sh cifar).
                c = new DistillConfig();
                c.teacher = dir.resolve("teacher.pt").toString();
                c.dataShape = new long[] {3, 32, 32};
                c.batch = 8;
            }
            default -> throw new IllegalArgumentException("unknown case " + name);
        }
        return c;
    }

    /** The case's configuration as the benchmarks run it (networks from the prepared files). */
    public static DistillConfig config(String name) {
        Path f = root().resolve(name).resolve("config.json");
        try {
            return DistillConfig.fromJson(Files.readString(f));
        } catch (IOException e) {
            throw new UncheckedIOException("no prepared case " + f + ": run bench/compare.sh (or PrepareModels) first", e);
        }
    }

    /** A fresh trainer for case {@code name}, writing (nothing, unless asked) to a temporary folder. */
    public static DistillRun trainer(String name) {
        return trainer(name, null);
    }

    /** A fresh trainer for case {@code name} on {@code device} (null: the case's own). */
    public static DistillRun trainer(String name, String device) {
        DistillConfig cfg = config(name);
        if (device != null) cfg.device = device;
        try {
            cfg.out = Files.createTempDirectory("bench-" + name).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return DistillRun.start(cfg, Networks.resolve(cfg));
    }

    static void applyThreads(int threads) {
        if (threads > 0) Torch.setThreads(threads);
    }

    static void save(ScriptModule m, Path p) {
        m.save(p);
    }
}
