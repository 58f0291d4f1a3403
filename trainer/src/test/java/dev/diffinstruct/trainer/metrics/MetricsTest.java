package dev.diffinstruct.trainer.metrics;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.PythonReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTest {
    @TempDir
    Path dir;

    /** Correlated Gaussian features: z A + shift, z standard normal [n, latent], A [latent, f]. */
    private static Tensor features(Generator g, int n, int latent, int f, double shift) {
        Tensor out;
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(g, DType.FLOAT64, Device.CPU, latent, f).mul(0.5);
            Tensor z = Tensor.randn(g, DType.FLOAT64, Device.CPU, n, latent);
            out = s.keep(z.matmul(a).add(shift));
        }
        return out;
    }

    private double[] fidCase(String name, Tensor a, Tensor b, String python) {
        Path fa = dir.resolve(name + ".a.npy"), fb = dir.resolve(name + ".b.npy");
        Npy.write(fa, a);
        Npy.write(fb, b);
        String text = PythonReference.runWith(python, "metrics_reference.py", "fid", fa.toString(), fb.toString()).strip();
        String[] out = text.substring(text.lastIndexOf('\n') + 1).split(" "); // last line (scipy may warn first)
        double ref = Double.parseDouble(out[0]);
        double got = FrechetDistance.between(a, b);
        double rel = Math.abs(got - ref) / Math.abs(ref);
        System.out.printf("MetricsTest FID %-30s java %.10g  numpy (%s, %s) %.10g  rel diff %.2e%n", name, got, out[1], python, ref, rel);
        return new double[] {got, ref, rel};
    }

    private static String scipyPython() {
        // Debian's python3 has torch but no scipy here; another interpreter on PATH may have scipy.
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy, scipy.linalg").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 ? "python3" : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    @Test
    void frechetDistanceMatchesNumpy() {
        PythonReference.assumeAvailable();
        String scipy = scipyPython();
        try (Scope s = Scope.open(); Generator g = new Generator(1)) {
            Tensor a = features(g, 600, 24, 16, 0), b = features(g, 500, 24, 16, 0.3);
            Tensor c = features(g, 20, 40, 64, 0), d = features(g, 25, 40, 64, 0.1); // fewer samples than dims
            Tensor e = features(g, 300, 5, 32, 0), f = features(g, 300, 5, 32, 0.2); // rank-5 covariances, many samples
            for (String py : scipy == null ? new String[] {PythonReference.interpreter()} : new String[] {PythonReference.interpreter(), scipy}) {
                assertTrue(fidCase("full rank", a, b, py)[2] <= 1e-4);
                assertTrue(fidCase("singular (n=20,25 < F=64)", c, d, py)[2] <= 1e-4);
                assertTrue(fidCase("rank 5 of 32", e, f, py)[2] <= 1e-4);
            }
            assertEquals(0, FrechetDistance.between(a, a), 1e-9);
            // singular (rank 19 of 64): the trace term's sqrt of lambda^2 (absolute LAPACK error ~eps * lambda_max^2)
            // over small lambda reaches ~1e-9 with OpenBLAS or MKL; a real bug gives a distance >> 1e-6
            assertEquals(0, FrechetDistance.between(c, c), 1e-6);
        }
    }

    @Test
    void statsAreMeanAndUnbiasedCovariance() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 7}, 3, 2);
            try (FrechetDistance.Stats st = FrechetDistance.stats(x)) {
                double[] mu = st.mean().toDoubleArray(), cov = st.cov().toDoubleArray();
                assertEquals(3, mu[0], 1e-12);
                assertEquals(13 / 3.0, mu[1], 1e-12);
                assertEquals(4, cov[0], 1e-12); // var of 1,3,5
                assertEquals(5, cov[1], 1e-12); // cov((1,3,5), (2,4,7))
                assertEquals(5, cov[2], 1e-12);
                assertEquals(6.333333333333333, cov[3], 1e-12);
                assertEquals(4 + 6.333333333333333, FrechetDistance.trace(st.cov()), 1e-12);
            }
            // with S1 = S2 = diag(4, 9) and means 1 apart: 1 + 13 + 13 - 2 * 13 = 1
            Tensor cov = Tensor.of(new double[] {4, 0, 0, 9}, 2, 2);
            assertEquals(1, FrechetDistance.distance(Tensor.of(new double[] {0, 0}, 2), cov, Tensor.of(new double[] {1, 0}, 2), cov), 1e-12);
        }
    }

    @Test
    void precisionRecallMatchesNumpy() {
        PythonReference.assumeAvailable();
        try (Scope s = Scope.open(); Generator g = new Generator(2)) {
            Tensor real = Tensor.randn(g, DType.FLOAT64, Device.CPU, 400, 8);
            // fake: half on the real distribution, half shifted away, and narrower: precision < 1, recall < 1
            Tensor fake = Tensor.cat(java.util.List.of(Tensor.randn(g, DType.FLOAT64, Device.CPU, 150, 8).mul(0.5),
                    Tensor.randn(g, DType.FLOAT64, Device.CPU, 150, 8).add(4)), 0);
            Path fr = dir.resolve("real.npy"), ff = dir.resolve("fake.npy");
            Npy.write(fr, real);
            Npy.write(ff, fake);
            for (int k : new int[] {3, 5}) {
                String[] out = PythonReference.run("metrics_reference.py", "pr", fr.toString(), ff.toString(), String.valueOf(k)).strip().split(" ");
                PrecisionRecall.Result r = PrecisionRecall.compute(real, fake, k, 64); // small blocks: many batches
                System.out.printf("MetricsTest precision/recall k=%d: java %.6f %.6f  numpy %s %s%n", k, r.precision(), r.recall(), out[0], out[1]);
                // fractions of counts of d <= r: float64 cdist rounding (~1e-15) is far below any gap between a distance and a radius
                assertEquals(Double.parseDouble(out[0]), r.precision(), 1e-12);
                assertEquals(Double.parseDouble(out[1]), r.recall(), 1e-12);
                assertTrue(r.precision() > 0.3 && r.precision() < 0.8 && r.recall() > 0.05 && r.recall() < 0.9, r.toString());
            }
            PrecisionRecall.Result same = PrecisionRecall.compute(real, real);
            assertEquals(1, same.precision(), 0);
            assertEquals(1, same.recall(), 0);
            PrecisionRecall.Result far = PrecisionRecall.compute(real, real.add(100));
            assertEquals(0, far.precision(), 0);
            assertEquals(0, far.recall(), 0);
        }
    }

    @Test
    void featuresRunInBatchesThroughAFeatureNetwork() {
        try (Scope s = Scope.open(); Generator g = new Generator(4); ScriptModule net = ScriptModule.create("Feat")) {
            net.registerBuffer("w", Tensor.randn(g, 8, 16));
            net.define("""
                    def forward(self, x: Tensor) -> Tensor:
                        return torch.tanh(x.flatten(1) @ self.w)
                    """);
            Tensor data = Tensor.randn(g, 100, 2, 2, 2);
            Tensor all = Features.extract(net, data, 100, Device.CPU);
            Tensor batched = Features.extract(net, data, 7, Device.CPU);
            assertEquals(DType.FLOAT64, all.dtype());
            assertEquals(100, batched.size(0));
            assertEquals(16, batched.size(1));
            // float32 matmul: the batch size (100 vs 7 rows) changes the BLAS kernel / blocking (and AVX2 vs AVX-512
            // differ), so features agree to float32 rounding (~k * 6e-8 * sum|terms|, k = 8): 1e-5 covers OpenBLAS / MKL
            assertTrue(all.allClose(batched, 1e-5, 1e-5));
            InvalidInputException bad = assertThrows(InvalidInputException.class,
                    () -> Features.extract(net, Tensor.randn(g, 10, 3), 4, Device.CPU));
            assertTrue(bad.getMessage().startsWith("feature network's forward failed on data of shape [4, 3]"), bad.getMessage());
        }
    }

    @Test
    void labelAccuracyCountsTheClassifiersAgreementWithTheLabels() {
        try (Scope s = Scope.open(); ScriptModule net = ScriptModule.create("Clf"); ScriptModule plain = ScriptModule.create("Plain")) {
            // logits = the image's three pixels: the brightest pixel names the class
            net.define("""
                    def forward(self, x: Tensor) -> Tensor:
                        return x.flatten(1)

                    def logits(self, x: Tensor) -> Tensor:
                        return x.flatten(1)
                    """);
            plain.define("""
                    def forward(self, x: Tensor) -> Tensor:
                        return x.flatten(1)
                    """);
            assertTrue(LabelAccuracy.canClassify(net));
            assertTrue(!LabelAccuracy.canClassify(plain));
            Tensor x = Tensor.of(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, 5, 1, 1, 3);
            assertEquals(0.6, LabelAccuracy.of(net, x, new long[] {0, 1, 2, 2, 0}, 2, Device.CPU), 1e-12);
            assertEquals(1.0, LabelAccuracy.of(net, x, new long[] {0, 1, 2, 0, 2}, 5, Device.CPU), 1e-12);
            assertTrue(assertThrows(InvalidInputException.class, () -> LabelAccuracy.of(net, x, new long[] {0, 1, 3, 0, 2}, 5, Device.CPU))
                    .getMessage().contains("label 3 is outside the classifier's 3 classes"));
            assertTrue(assertThrows(InvalidInputException.class, () -> LabelAccuracy.of(net, x, new long[] {0, 1}, 5, Device.CPU))
                    .getMessage().contains("2 labels for 5 samples"));
        }
    }
}
