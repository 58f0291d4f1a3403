package dev.diffinstruct.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Autocast regions reach ops inside TorchScript modules, nest, and restore what was before. */
class AutocastTest {
    /** A linear layer as one op (torch.linear is on autocast's low-precision list; a matmul plus a float32 bias would promote back). */
    private static ScriptModule linear() {
        ScriptModule m = ScriptModule.create("Lin");
        try (Scope s = Scope.open(); Generator g = new Generator(1)) {
            m.registerParameter("w", Tensor.randn(g, 3, 4));
            m.registerParameter("b", Tensor.randn(g, 3));
        }
        m.define("def forward(self, x: Tensor) -> Tensor:\n    return torch.linear(x, self.w, self.b)\n");
        return m.requiresGrad(true);
    }

    @Test
    void scriptModulesRunInBfloat16InsideARegionOnly() {
        try (Scope s = Scope.open(); ScriptModule m = linear(); Generator g = new Generator(1)) {
            Tensor x = Tensor.randn(g, 5, 4);
            assertEquals(DType.FLOAT32, m.forward(x).dtype());
            try (var outer = Torch.autocast(Device.CPU, DType.BFLOAT16)) {
                assertEquals(DType.BFLOAT16, x.matmul(x.transpose(0, 1)).dtype(), "an eager matmul");
                assertEquals(DType.BFLOAT16, m.forward(x).dtype(), "the matmul inside the module");
                try (var inner = Torch.autocast(Device.CPU, DType.BFLOAT16)) {
                    assertEquals(DType.BFLOAT16, m.forward(x).dtype());
                }
                assertEquals(DType.BFLOAT16, m.forward(x).dtype(), "an inner region's end keeps the outer one");
                assertEquals(DType.FLOAT32, m.parameters().get(0).dtype(), "parameters stay float32");
            }
            assertEquals(DType.FLOAT32, m.forward(x).dtype());
            // the gradient of a bfloat16 forward reaches the float32 parameters as float32
            Tensor y;
            try (var region = Torch.autocast(Device.CPU, DType.BFLOAT16)) {
                y = m.forward(x);
            }
            y.to(DType.FLOAT32).square().sum().backward();
            assertEquals(DType.FLOAT32, m.parameters().get(0).grad().dtype());
        }
    }

    @Test
    void refusesFullPrecisionAsTheReducedType() {
        TorchException e = assertThrows(TorchException.class, () -> Torch.autocast(Device.CPU, DType.FLOAT32));
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }
}
