package dev.diffinstruct.trainer.models;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.testutil.Python;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class BuiltinModelsTest {
    @TempDir
    Path dir;

    @Test
    void mlpGeneratorShapesInitAndPythonLoad() throws Exception {
        try (Generator g = new Generator(1); Scope s = Scope.open();
             ScriptModule gen = BuiltinModels.mlpGenerator(new long[] {4}, new long[] {2}, 32, 2, g)) {
            Tensor x = gen.forward(Tensor.randn(g, 5, 4));
            assertArrayEquals(new long[] {5, 2}, x.shape());
            assertArrayEquals(new long[] {4}, gen.getIntList("latent_shape"));
            Tensor w0 = gen.namedParameters().get("l0_w");
            assertTrue(w0.requiresGrad());
            assertTrue(w0.abs().max().item() <= 0.5 + 1e-6, "nn.Linear init bound 1/sqrt(4)");
            assertEquals(4 * 32 + 32 + 32 * 32 + 32 + 32 * 2 + 2, gen.parameterCount());
            gen.save(dir.resolve("g.pt"));
            String out = Python.run("""
                    import torch, sys
                    m = torch.jit.load(sys.argv[1])
                    print(list(m.latent_shape), tuple(m(torch.randn(3, 4)).shape))
                    """, dir.resolve("g.pt").toString());
            assertEquals("[4] (3, 2)", out.strip());
        }
    }

    @Test
    void edmDenoiserPreconditioning() {
        try (Generator g = new Generator(2); Scope s = Scope.open();
             ScriptModule d = BuiltinModels.edmMlpDenoiser(new long[] {2}, 16, 2, 0.5, g)) {
            Tensor x = Tensor.randn(g, 6, 2);
            // at tiny sigma the skip connection dominates: D(x, sigma) ~= x
            Tensor y = d.forward(x, Tensor.full(1e-4, 6));
            assertTrue(y.sub(x).abs().max().item() < 1e-3);
            Tensor y2 = d.forward(x, Tensor.full(3.0, 6));
            assertArrayEquals(new long[] {6, 2}, y2.shape());
            assertTrue(y2.allFinite());
        }
    }

    @Test
    void denoiserGeneratorWrapsACopy() throws Exception {
        try (Generator g = new Generator(3); Scope s = Scope.open();
             ScriptModule den = BuiltinModels.edmMlpDenoiser(new long[] {2}, 16, 1, 0.5, g);
             ScriptModule gen = BuiltinModels.denoiserGenerator(den, 2.5, new long[] {2})) {
            Tensor z = Tensor.randn(g, 4, 2);
            Tensor a = gen.forward(z);
            Tensor b = den.forward(z.mul(2.5), Tensor.full(2.5, 4));
            // exact by construction: the wrapper runs the same ops (z * 2.5, full(2.5)) and a copy of the same net on the same shapes
            assertTrue(a.allClose(b, 0, 0));
            assertEquals(den.parameterCount(), gen.parameterCount());
            // independent copy: changing the generator leaves the teacher alone
            try (var ng = dev.diffinstruct.torch.Torch.noGrad()) {
                gen.parameters().get(0).addInPlace(1.0);
            }
            assertFalse(gen.forward(z).allClose(den.forward(z.mul(2.5), Tensor.full(2.5, 4)), 0, 1e-6));
            gen.save(dir.resolve("og.pt"));
            String out = Python.run("""
                    import torch, sys
                    m = torch.jit.load(sys.argv[1])
                    print(m.init_sigma, list(m.latent_shape), tuple(m(torch.randn(3, 2)).shape))
                    """, dir.resolve("og.pt").toString());
            assertEquals("2.5 [2] (3, 2)", out.strip());
        }
    }

    @Test
    void mixtureTeacherWrapsToo() {
        try (Scope s = Scope.open(); ScriptModule t = MixtureTeacher.defaultRing().toModule();
             ScriptModule gen = BuiltinModels.denoiserGenerator(t, 1.0, new long[] {2})) {
            assertEquals(0, gen.parameterCount());
            assertArrayEquals(new long[] {3, 2}, gen.forward(Tensor.randn(null, 3, 2)).shape());
        }
    }
}
