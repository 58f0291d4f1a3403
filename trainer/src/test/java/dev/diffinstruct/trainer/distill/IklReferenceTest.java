package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.diffusion.MixtureTeacher;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;
import dev.diffinstruct.trainer.models.BuiltinModels;
import dev.diffinstruct.trainer.testutil.Python;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One generator gradient of each weighting against trainer/src/test/python/ikl_reference.py (float64 PyTorch). */
class IklReferenceTest {
    @TempDir
    Path dir;

    @Test
    void generatorGradientMatchesPyTorchReference() throws Exception {
        Path script = Path.of(System.getProperty("repo.root", ".."), "trainer/src/test/python/ikl_reference.py");
        try (Scope s = Scope.open(); Generator g = new Generator(7);
             ScriptModule gen = BuiltinModels.mlpGenerator(new long[] {3}, new long[] {2}, 24, 2, g);
             ScriptModule teacher = MixtureTeacher.defaultRing().toModule();
             ScriptModule fake = BuiltinModels.edmMlpDenoiser(new long[] {2}, 24, 2, 0.5, g)) {
            int n = 64;
            Tensor z = Tensor.randn(g, n, 3);
            Tensor sigma = new SigmaSampler.LogNormal(-1.2, 1.2).sample(g, n);
            Tensor eps = Tensor.randn(g, n, 2);
            gen.save(dir.resolve("generator.pt"));
            teacher.save(dir.resolve("teacher.pt"));
            fake.save(dir.resolve("fake.pt"));
            Npy.write(dir.resolve("z.npy"), z);
            Npy.write(dir.resolve("sigma.npy"), sigma);
            Npy.write(dir.resolve("eps.npy"), eps);
            assertEquals("ok", Python.runFile(script, dir.toString()).strip());

            Map<String, GeneratorObjective> objectives = new LinkedHashMap<>(); // the reference's names: the former --weighting values
            objectives.put("SIGMA2", new IklLoss(IklLoss.Weighting.SIGMA2));
            objectives.put("DMD", new DmdLoss());
            objectives.put("SID", new SidLoss(1.2));
            for (Map.Entry<String, GeneratorObjective> o : objectives.entrySet()) {
                String w = o.getKey();
                for (Tensor p : gen.parameters()) p.zeroGrad();
                Tensor loss = DiffInstruct.generatorLoss(new GeneratorNet(gen, 0), new Denoiser(teacher, 0), new Denoiser(fake, 0), o.getValue(),
                        false, z, sigma, eps, null);
                loss.backward();
                List<Tensor> grads = new ArrayList<>();
                for (Tensor p : gen.parameters()) grads.add(p.grad().reshape(-1));
                Tensor java = Tensor.cat(grads, 0).to(dev.diffinstruct.torch.DType.FLOAT64);
                Tensor ref = Npy.read(dir.resolve("grad_" + w.toLowerCase() + ".npy"));
                assertEquals(ref.numel(), java.numel());
                double scale = ref.abs().max().item();
                double err = java.sub(ref).abs().max().item() / scale;
                System.out.printf("IKL reference, %s: max |java - python| / max |python| = %.2e (max |grad| %.3e)%n", w, err, scale);
                assertTrue(scale > 1e-4, "degenerate reference gradient");
                // float32 Java (two MLPs, the ring teacher at sigma down to ~0.01, backward, a 64-sample sum) against
                // float64: the rounding pattern depends on the CPU kernels and BLAS; 1e-4 is 100x below a wrong term
                assertTrue(err < 1e-4, w + ": relative error " + err);
            }
        }
    }
}
