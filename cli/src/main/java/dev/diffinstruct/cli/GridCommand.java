package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.viz.Plots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code grid}: a PNG of samples, an image grid for [N, C, H, W] or a scatter plot for [N, 2]. */
@Command(name = "grid", header = "Draw samples (.npy) as a PNG grid or scatter plot.", mixinStandardHelpOptions = true,
        description = {"Draw samples (.npy) as a PNG: an image grid for [N, C, H, W] arrays (C = 1 or 3, values in "
                + "[-1, 1]) or a scatter plot for [N, 2] arrays. Several files go side by side.", "",
                "Example:",
                "  ./diffinstruct grid teacher.npy generator.npy --out compare.png"})
final class GridCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Parameters(paramLabel = "SAMPLES.npy", arity = "1..*", description = "Sample files, drawn left to right.")
    List<Path> inputs;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE.png", description = "The PNG to write.")
    Path out;

    @Option(names = "--n", defaultValue = "64", description = "Images per grid (scatter plots show every point) (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--cols", defaultValue = "8", description = "Images per grid row (default: ${DEFAULT-VALUE}).")
    int cols;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (n < 1 || cols < 1) throw new InvalidInputException("--n and --cols must be >= 1");
        Path parent = out.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent) || !Files.isWritable(parent))
            throw new InvalidInputException("--out " + out + ": folder " + parent + " is missing or not writable");
        if (Files.isDirectory(out)) throw new InvalidInputException("--out " + out + ": is a directory");
        try (Scope scope = Scope.open()) {
            List<Tensor> arrays = new ArrayList<>();
            for (Path p : inputs) {
                Tensor t = Npy.read(p);
                if (!t.dtype().isFloatingPoint()) t = t.to(DType.FLOAT32);
                if (!t.to(DType.FLOAT64).allFinite()) // a plot of NaN is blank: refuse it as eval does
                    throw new InvalidInputException(p + ": the samples contain NaN or infinite values (a diverged run?)");
                arrays.add(t);
            }
            long[] first = arrays.get(0).shape();
            boolean images = first.length == 4;
            for (int i = 0; i < arrays.size(); i++) {
                long[] s = arrays.get(i).shape();
                boolean ok = images ? s.length == 4 && (s[1] == 1 || s[1] == 3) : s.length == 2 && s[1] == 2;
                if (!ok) throw new ModelFileException(inputs.get(i), "grid", "shape " + Arrays.toString(s) + " is not "
                        + (images ? "[N, 1|3, H, W] images" : "[N, 2] points") + (i > 0 ? " like " + inputs.get(0) + "'s" : ""));
            }
            if (images) {
                List<Plots.Grid> grids = new ArrayList<>();
                for (int i = 0; i < arrays.size(); i++) {
                    Tensor t = arrays.get(i);
                    grids.add(new Plots.Grid(inputs.get(i).getFileName().toString(), t.slice(0, Math.min(n, t.size(0)))));
                }
                Plots.imageGrids(out, grids, cols);
            } else {
                List<Plots.Panel> panels = new ArrayList<>();
                for (int i = 0; i < arrays.size(); i++) panels.add(Plots.Panel.of(inputs.get(i).getFileName().toString(), arrays.get(i)));
                Plots.scatter(out, panels, null);
            }
        }
        spec.commandLine().getOut().println("wrote " + out);
        return Main.EXIT_OK;
    }
}
