package dev.diffinstruct.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code refine}: continue Diff-Instruct training of an existing one-step generator. */
@Command(name = "refine", header = "Refine an existing generator (a GAN, an earlier run).", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Refine an existing one-step generator against a teacher with Diff-Instruct (distill with --generator required).",
                "Pass --fake with the fake_score.pt of the earlier run to keep its fake score.", "",
                "Examples:",
                "  ./diffinstruct refine --generator demo-out/generator.pt \\",
                "      --fake demo-out/fake_score.pt --out refined --steps 1000",
                "  ./diffinstruct refine --generator assets/fashion-mnist/gan/gan.pt \\",
                "      --teacher assets/fashion-mnist/teacher.pt --out gan-refined --steps 1000",
                ""})
final class RefineCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Mixin
    DistillOptions options;

    @Option(names = "--generator", paramLabel = "FILE.pt", required = true,
            description = "The generator to refine: TorchScript forward(z) -> x, or forward(z, class_labels) with --classes (latent shape from "
                    + "--latent-dim or its latent_shape attribute).")
    String generator;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return options.run(generator, spec);
    }
}
