package dev.diffinstruct.cli;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
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
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show a TorchScript file's methods, parameters and buffers, and try it as a teacher",
                "or generator on a dummy input.", "",
                "Example: ./diffinstruct inspect teacher.pt --shape 1,28,28"})
final class InspectCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Parameters(paramLabel = "FILE.pt", description = "A TorchScript file (torch.jit.save).")
    Path file;

    @Option(names = "--shape", paramLabel = "D[,H,W]", split = ",",
            description = "Data shape to try forward(x, sigma) with (one sample, no batch dimension).")
    long[] shape;

    @Option(names = "--device", defaultValue = "cpu", description = "Device to load onto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--all", description = "List every parameter, not only the first 40.")
    boolean all;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Device dev = Device.parse(device).check();
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
            if (m.hasAttribute("latent_shape")) {
                long[] latent = m.getIntList("latent_shape");
                out.println("latent_shape: " + Arrays.toString(latent));
                tryForward(out, "generator forward(z)", () -> {
                    long[] s = prepend(2, latent);
                    return m.forward(Tensor.randn(null, DType.FLOAT32, dev, s));
                });
            }
            if (shape != null) {
                long[] s = prepend(2, shape);
                tryForward(out, "teacher forward(x, sigma) [edm]", () ->
                        m.forward(Tensor.randn(null, DType.FLOAT32, dev, s), Tensor.full(1.0, DType.FLOAT32, dev, 2)));
            }
        }
        return Main.EXIT_OK;
    }

    private static long[] prepend(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    private static void tryForward(PrintWriter out, String what, java.util.function.Supplier<Tensor> f) {
        try {
            Tensor y = f.get();
            out.println("check: " + what + " -> " + Arrays.toString(y.shape()) + " ok");
        } catch (TorchException e) {
            out.println("check: " + what + " FAILED: " + e.summary());
        }
    }
}
