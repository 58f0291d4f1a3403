package dev.diffinstruct.torch;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** --version's account of the LibTorch this process runs on comes from what was really mapped. */
class LibTorchInfoTest {
    @Test
    void namesTheMappedLibTorchAndWhereItCameFrom() {
        Torch.version(); // loads the shim and, through it, libtorch
        Path lib = LibTorchInfo.library();
        assertNotNull(lib, "no libtorch in /proc/self/maps");
        assertTrue(Files.isRegularFile(lib), lib.toString());
        assertTrue(lib.getFileName().toString().startsWith("libtorch"), lib.toString());
        String source = LibTorchInfo.source();
        System.out.println("LibTorch " + Torch.version() + ": " + source + "; BLAS " + LibTorchInfo.blas() + "; CUDA " + LibTorchInfo.cudaRuntime());
        if (lib.toString().contains("-packages/torch/lib/")) assertTrue(source.startsWith("pip torch in "), source);
        else if (lib.toString().startsWith("/usr/lib/")) assertTrue(source.startsWith("Debian package"), source);
        else assertTrue(source.startsWith("LibTorch in "), source);
        // Debian's library names carry the version: the one mapped is the one the shim was built against
        String majorMinor = Torch.version().replaceAll("^(\\d+\\.\\d+).*", "$1");
        if (lib.toString().startsWith("/usr/lib/")) assertTrue(lib.getFileName().toString().contains(majorMinor), lib + " vs " + Torch.version());
        assertFalse(LibTorchInfo.blas().isBlank());
    }
}
