package dev.diffinstruct.cli;

import dev.diffinstruct.torch.LibTorchInfo;
import dev.diffinstruct.torch.ProcessGroup;
import dev.diffinstruct.torch.Torch;
import picocli.CommandLine;

import java.util.ArrayList;
import java.util.List;

/** {@code --version}: what runs the maths, and how fast it can be. */
public final class VersionInfo implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return lines().toArray(String[]::new);
    }

    static List<String> lines() {
        List<String> out = new ArrayList<>();
        String v = Main.class.getPackage().getImplementationVersion();
        out.add("diffinstruct " + (v == null ? "(development build)" : v));
        out.add("java         " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        out.add("libtorch     " + Torch.version() + ", " + LibTorchInfo.source());
        out.add("shim         " + Torch.nativeLibrary());
        out.add("BLAS         " + LibTorchInfo.blas());
        out.add("threads      " + Torch.threads() + " intra-op (cores: " + Runtime.getRuntime().availableProcessors() + ")");
        String cuda = LibTorchInfo.cudaRuntime(), cudnn = LibTorchInfo.cudnn();
        String built = cuda == null ? "CPU-only LibTorch" : "built for CUDA " + cuda + (cudnn == null ? ", no cuDNN" : ", cuDNN " + cudnn);
        out.add("CUDA         " + (Torch.cudaAvailable() ? Torch.cudaDeviceCount() + " device(s); " : "no device; ") + built);
        List<String> backends = ProcessGroup.backends();
        out.add("distributed  " + (backends.isEmpty()
                ? "none (the shim was built without c10d's Gloo headers: apt install libgloo-dev, then rebuild)"
                : "c10d " + String.join(", ", backends) + " (--nproc-per-node, or torchrun-style RANK/WORLD_SIZE)"));
        return out;
    }
}
