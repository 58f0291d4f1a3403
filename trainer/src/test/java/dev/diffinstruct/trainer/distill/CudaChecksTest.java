package dev.diffinstruct.trainer.distill;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Torch;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CUDA checks of scripts/gpu-check.sh, where Maven runs on a GPU; skipped (never failed) without one. */
class CudaChecksTest {
    @TempDir
    Path dir;

    @Test
    void cudaAgreesWithTheCpuAndResumes() {
        assumeTrue(Torch.cudaAvailable(), "no CUDA device: the GPU checks run in scripts/gpu-check.sh");
        for (CudaChecks.Check c : CudaChecks.all(dir, Device.cuda(0))) assertTrue(c.ok(), c.name() + ": " + c.detail());
    }

    @Test
    void theChecksHoldForTheCpuAgainstItself() {
        // the same code with the CPU in CUDA's place: every comparison must come out exact (same
        // device, same kernels), resume included, and bf16 must differ from fp32 a little
        for (CudaChecks.Check c : CudaChecks.all(dir, Device.CPU)) {
            assertTrue(c.ok(), c.name() + ": " + c.detail());
            if (!c.name().startsWith("bf16")) assertTrue(c.detail().contains("0.00e+00"), c.name() + ": " + c.detail());
        }
    }
}
