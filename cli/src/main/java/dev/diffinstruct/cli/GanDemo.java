package dev.diffinstruct.cli;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.distill.DistillConfig;
import dev.diffinstruct.trainer.metrics.Features;
import dev.diffinstruct.trainer.metrics.FrechetDistance;
import dev.diffinstruct.trainer.metrics.PrecisionRecall;
import dev.diffinstruct.trainer.viz.Plots;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code demo --gan}: a short Diff-Instruct refinement of a GAN generator (the committed DCGAN) by
 * the image teacher, with the settings of the README's "Refining a GAN"; draws the same latents
 * before and after and prints the FID / precision / recall of 1,000 samples of each against the
 * test images (fewer samples than the README's 10,000: compare the two rows with each other).
 */
final class GanDemo {
    static final long STEPS = 300;
    static final int SAMPLES = 1000;
    static final int SHOWN = 32;

    private GanDemo() {}

    static int run(DemoCommand d) {
        DistillConfig cfg = new DistillConfig();
        cfg.teacher = (d.imageTeacher != null ? d.imageTeacher : d.defaultImageTeacher()).toString();
        Path gan = d.ganGenerator != null ? d.ganGenerator : DemoCommand.committed("gan/gan.pt");
        if (!Files.exists(gan)) throw new InvalidInputException("no GAN generator at " + gan + ": give --generator G.pt");
        cfg.generator = gan.toString();
        cfg.batch = d.imageBatch != null ? d.imageBatch : 16;
        // the README's refinement settings: the fake score (a copy of the teacher) first learns the
        // GAN's distribution, Karras noise levels, the same learning rate 1e-4 for both networks
        cfg.warmupFake = Math.min(100, d.steps / 3);
        cfg.sigmaSampler = "karras";
        cfg.lrG = 1e-4;
        cfg.lrF = 1e-4;
        if (!d.quiet) d.spec.commandLine().getOut().printf("demo --gan: refining %s by %s (%d steps, the first %d only the fake score's; batch %d) -> %s%n",
                cfg.generator, cfg.teacher, d.steps, cfg.warmupFake, cfg.batch, d.out);
        return d.distil(cfg, SAMPLES, false, (di, before, w) -> {
            try (Scope s = Scope.open(); Generator g = new Generator(d.seed + 11)) {
                Tensor after = di.sample(g, SAMPLES, false); // the same latents as before (same seed)
                Path png = d.out.resolve("samples.png");
                Plots.imageGrids(png, List.of(new Plots.Grid("GAN generator, before", before.narrow(0, 0, SHOWN)),
                        new Plots.Grid("refined, " + d.steps + " steps", after.narrow(0, 0, SHOWN))), 8);
                Path features = DemoCommand.committed("features.pt");
                if (Files.exists(features)) {
                    scores(features, before, after, di.device(), w);
                } else {
                    w.println("(no " + features + ": FID skipped)");
                }
                w.println("wrote " + png);
            }
        });
    }

    /** FID / precision / recall of both sample sets against Fashion-MNIST's test images, in features.pt's space. */
    private static void scores(Path features, Tensor before, Tensor after, Device dev, PrintWriter w) {
        try (Scope s = Scope.open(); ScriptModule net = ScriptModule.load(features, dev)) {
            net.train(false);
            Tensor ref = Features.extract(net, ImageDataset.load("fashion-mnist:test").images(), 500, dev);
            w.printf(Locale.ROOT, "%n%-26s %8s %10s %8s   (%d samples vs the 10,000 test images)%n", "", "FID", "precision", "recall", SAMPLES);
            for (Object[] row : new Object[][] {{"GAN generator, before", before}, {"refined", after}}) {
                Tensor f = Features.extract(net, (Tensor) row[1], 500, dev);
                PrecisionRecall.Result pr = PrecisionRecall.compute(ref, f, 3, 500);
                w.printf(Locale.ROOT, "%-26s %8.2f %10.3f %8.3f%n", row[0], FrechetDistance.between(f, ref), pr.precision(), pr.recall());
            }
        }
    }
}
