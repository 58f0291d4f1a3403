package dev.diffinstruct.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code distill}: Diff-Instruct from a teacher into a one-step generator. */
@Command(name = "distill", header = "Distil a diffusion teacher into a one-step generator.", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Distil a diffusion model (the teacher) into a one-step generator with Diff-Instruct, data-free.",
                "Unset options take the defaults shown; for the built-in mixture teacher, the tuned values shown after it.", "",
                "Examples:",
                "  ./diffinstruct distill --teacher builtin:mixture --out demo-out",
                "  ./diffinstruct distill --teacher edm.pt --data-shape 3,32,32 --out run1",
                "  ./diffinstruct distill --teacher cond.pt --classes 10 \\",
                "      --data-shape 3,32,32 --lr-g 1e-5 --out run2",
                "  ./diffinstruct distill --teacher vp.pt --teacher-kind vp-eps \\",
                "      --beta-min 0.1 --beta-max 20 --out run3",
                ""})
final class DistillCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Mixin
    DistillOptions options;

    @Option(names = "--generator", paramLabel = "FILE.pt|builtin:mlp",
            description = "Initial generator forward(z) -> x, or forward(z, class_labels) with --classes (default: g(z) = D(s z, s) from a copy "
                    + "of the teacher; builtin:mlp for a teacher without parameters).")
    String generator;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return options.run(generator, spec);
    }
}
