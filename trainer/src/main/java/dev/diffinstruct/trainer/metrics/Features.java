package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Features of data from a TorchScript feature network {@code forward(x[N, ...]) -> [N, F]}, run in batches. */
public final class Features {
    private Features() {}

    /**
     * Runs {@code net} over {@code data} [N, ...] (any device; moved batch by batch to
     * {@code device} as float32) under no-grad; returns float64 [N, F] on the CPU.
     *
     * @throws InvalidInputException if the network fails on the data or does not return [B, F]
     */
    public static Tensor extract(ScriptModule net, Tensor data, int batch, Device device) {
        return extract(net, "forward", data, batch, device);
    }

    /** As {@link #extract(ScriptModule, Tensor, int, Device)}, through the network's method {@code method}. */
    public static Tensor extract(ScriptModule net, String method, Tensor data, int batch, Device device) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        long n = data.size(0);
        if (n < 1) throw new InvalidInputException("no samples to compute features of");
        Tensor out;
        try (Torch.GradMode ng = Torch.noGrad(); Scope scope = Scope.open()) {
            List<Tensor> parts = new ArrayList<>();
            for (long start = 0; start < n; start += batch) {
                dev.diffinstruct.trainer.StopRequest.check("while computing features; nothing was written");
                long b = Math.min(batch, n - start);
                try (Scope bs = Scope.open()) {
                    Tensor x = data.slice(start, start + b).to(DType.FLOAT32).to(device);
                    Tensor f;
                    try {
                        f = net.runOne(method, x);
                    } catch (TorchException e) {
                        throw new InvalidInputException("feature network's " + method + " failed on data of shape "
                                + Arrays.toString(x.shape()) + ": " + dev.diffinstruct.trainer.diffusion.Teachers.reason(e), e);
                    }
                    if (f.dim() != 2 || f.size(0) != b)
                        throw new InvalidInputException("feature network's " + method + " returned shape " + Arrays.toString(f.shape())
                                + " for a batch of " + b + "; it must return [N, F]");
                    parts.add(bs.keep(f.to(DType.FLOAT64).to(Device.CPU)));
                }
            }
            out = scope.keep(parts.size() == 1 ? parts.get(0).alias() : Tensor.cat(parts, 0));
        }
        return out;
    }
}
