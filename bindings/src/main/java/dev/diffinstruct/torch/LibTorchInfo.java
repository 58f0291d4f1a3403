package dev.diffinstruct.torch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which LibTorch this process really runs on: the library file the loader mapped (not the one the
 * build was pointed at), where it came from, and what its build says about BLAS, CUDA and cuDNN.
 */
public final class LibTorchInfo {
    private LibTorchInfo() {}

    /** The libtorch_cpu (or monolithic libtorch) library mapped into this process, resolved; null if none is found. */
    public static Path library() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int i = line.indexOf('/');
                if (i < 0) continue;
                Path p = Path.of(line.substring(i).strip());
                String name = p.getFileName().toString();
                if (name.startsWith("libtorch_cpu.so") || name.equals("libtorch.so") || name.startsWith("libtorch.so.")) {
                    try {
                        return p.toRealPath();
                    } catch (IOException e) {
                        return p;
                    }
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    /** Where the LibTorch came from: "Debian package", "pip torch in DIR", "LibTorch in DIR". */
    public static String source() {
        Path lib = library();
        if (lib == null) return "unknown";
        String s = lib.toString();
        if (s.matches(".*/(site|dist)-packages/torch/lib/.*")) return "pip torch in " + lib.getParent().getParent();
        if (s.startsWith("/usr/lib/")) return "Debian package (" + lib.getParent() + ")";
        Path dir = lib.getParent().getFileName() != null && lib.getParent().getFileName().toString().equals("lib") ? lib.getParent().getParent() : lib.getParent();
        return "LibTorch in " + dir;
    }

    /** The BLAS that runs matrix products: the library mapped, else what the build names (MKL linked in statically). */
    public static String blas() {
        String mapped = Torch.blasKind();
        if (!mapped.startsWith("built in")) return mapped;
        String info = configValue("BLAS_INFO");
        if (info == null) return mapped;
        return switch (info) {
            case "mkl" -> "MKL (linked into libtorch)";
            case "open" -> "OpenBLAS (linked into libtorch)";
            default -> info + " (linked into libtorch)";
        };
    }

    /** The CUDA version this LibTorch was built for, e.g. "13.0"; null for a CPU-only build (its build settings tell, also without a GPU). */
    public static String cudaRuntime() {
        String useCuda = configValue("USE_CUDA");
        return "1".equals(useCuda) || "ON".equals(useCuda) ? configValue("CUDA_VERSION") : null;
    }

    /** The cuDNN this LibTorch was built with, e.g. "9.24.0"; null when it has none. */
    public static String cudnn() {
        return cudaRuntime() == null ? null : configValue("CUDNN_VERSION");
    }

    /** {@link Torch#buildConfig()}, read once: it does not change while the process runs. */
    private static final class Config {
        static final String TEXT = Torch.buildConfig();
    }

    /** A {@code KEY=value} entry of the build settings line of {@link Torch#buildConfig()}. */
    private static String configValue(String key) {
        Matcher m = Pattern.compile("(?:^|[ ,])" + Pattern.quote(key) + "=([^,\\s]+)").matcher(Config.TEXT);
        return m.find() ? m.group(1) : null;
    }
}
