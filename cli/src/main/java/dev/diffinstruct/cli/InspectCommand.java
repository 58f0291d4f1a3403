package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.Teachers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code inspect FILE.pt}: what a TorchScript file holds and which roles it can play. */
@Command(name = "inspect", header = "Describe a TorchScript file, a checkpoint or a run folder.", mixinStandardHelpOptions = true,
        description = {"Show a TorchScript file's methods, parameters and buffers, and try it as a teacher or generator "
                + "on a dummy input; or describe a checkpoint (ckpt-*.zip) or a run folder (--out) of this tool.", "",
                "Examples:",
                "  ./diffinstruct inspect teacher.pt --shape 1,28,28",
                "  ./diffinstruct inspect demo-out/checkpoints/ckpt-000006000.zip",
                "  ./diffinstruct inspect demo-out"})
final class InspectCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Parameters(paramLabel = "FILE", description = "A TorchScript file (torch.jit.save), a checkpoint of this tool, or a run folder.")
    Path file;

    @Option(names = "--shape", paramLabel = "D[,H,W]", split = ",",
            description = "Data shape to try each teacher kind with (one sample, no batch dimension; default: the data_shape attribute).")
    long[] shape;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEV", description = "auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--classes", paramLabel = "C", description = "Class count to try class-conditional forwards with (default: the num_classes attribute, else 0).")
    Integer classes;

    @Option(names = "--latent-dim", split = ",", paramLabel = "L[,...]", description = "Latent shape to try forward(z) with (default: the latent_shape attribute).")
    long[] latent;

    @Option(names = "--all", description = "List every parameter, not only the first 40.")
    boolean all;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (java.nio.file.Files.isDirectory(file)) {
            RunInspection.runFolder(file, out);
            return Main.EXIT_OK;
        }
        if (RunInspection.isCheckpoint(file)) {
            RunInspection.checkpoint(file, out);
            return Main.EXIT_OK;
        }
        Device dev = DeviceOption.parse(device);
        try (ScriptModule m = ScriptModule.load(file, dev); Scope scope = Scope.open()) {
            out.println(file + "  (libtorch " + Torch.version() + ", BLAS: " + Torch.blasKind() + ")");
            out.println("methods:");
            for (String s : m.methods()) out.println("  " + s);
            Map<String, Tensor> params = m.namedParameters();
            long count = 0;
            for (Tensor t : params.values()) count += t.numel();
            out.printf("parameters: %,d in %d tensors%n", count, params.size());
            int shown = 0;
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                if (!all && shown++ >= 40) {
                    out.println("  ... (" + (params.size() - 40) + " more; --all lists them)");
                    break;
                }
                out.println("  " + e.getKey() + "  " + Arrays.toString(e.getValue().shape()) + " " + e.getValue().dtype().name().toLowerCase());
            }
            Map<String, Tensor> buffers = m.namedBuffers();
            out.println("buffers: " + buffers.size());
            for (Map.Entry<String, Tensor> e : buffers.entrySet())
                out.println("  " + e.getKey() + "  " + Arrays.toString(e.getValue().shape()) + " " + e.getValue().dtype().name().toLowerCase());
            long[] data = shape != null ? shape : m.hasAttribute("data_shape") ? attrList(m, "data_shape") : null;
            int nClasses = classes != null ? classes : m.hasAttribute("num_classes") ? (int) m.getDouble("num_classes") : 0;
            if (m.hasAttribute("latent_shape") || latent != null) {
                long[] z = latent != null ? latent : attrList(m, "latent_shape");
                out.println("latent_shape: " + Arrays.toString(z));
                tryRole(out, "generator forward(z" + (nClasses > 0 ? ", class_labels" : "") + ")", () -> {
                    Tensor x = nClasses > 0 ? m.forward(Tensor.randn(null, DType.FLOAT32, dev, Shapes.prepend(2, z)), Teachers.oneHot(new long[] {0, 0}, nClasses, dev))
                            : m.forward(Tensor.randn(null, DType.FLOAT32, dev, Shapes.prepend(2, z)));
                    return "-> " + Arrays.toString(x.shape());
                });
            }
            if (data == null) {
                out.println("teacher checks: skipped (give --shape D[,H,W], or save the model with a data_shape attribute)");
            } else {
                out.println("teacher checks on a dummy batch of shape " + Arrays.toString(Shapes.prepend(2, data)) + (nClasses > 0 ? " with " + nClasses + " classes" : "")
                        + " (signatures cannot tell eps- from v-prediction: pick the kind your model was trained as):");
                for (TeacherKind kind : TeacherKind.values()) {
                    TeacherSpec spec = TeacherSpec.of(kind).withClasses(nClasses);
                    tryRole(out, "--teacher-kind " + kind, () -> {
                        try (ScriptModule view = Teachers.load(file.toString(), spec, dev)) { // the loader distill and teacher-sample use
                            Teachers.check(view, spec, data, dev, "it");
                            return "fits";
                        }
                    });
                }
            }
        }
        return Main.EXIT_OK;
    }

    private static long[] attrList(ScriptModule m, String name) {
        try {
            return m.getIntList(name);
        } catch (TorchException e) {
            return null;
        }
    }

    /** Prints whether the module can play a role, and if not, why, in one line. */
    private static void tryRole(PrintWriter out, String role, java.util.function.Supplier<String> f) {
        String result;
        try (Scope s = Scope.open()) {
            result = "ok " + f.get();
        } catch (TorchException e) {
            result = "no: " + e.summary();
        } catch (InvalidInputException e) {
            result = "no: " + e.getMessage();
        }
        out.println("  " + role + ": " + result);
    }
}
