package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.PythonReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same analytic Gaussian mixture, exported by export_mixture_kinds.py as a teacher in every
 * convention, must give the same exact D(x, sigma) through {@link Teachers#asDenoiser}.
 */
class TeachersTest {
    /**
     * |D - D_ref| <= TOL * max(1, max|x_row|): float32 in and out, x and D grow with sigma. D_ref is
     * exact (float64); the view's error is only float32 rounding of element-wise conversions and
     * of the teacher's input/output (~1e-7 of max(1, |x|), times the mixture's sensitivity), not
     * a reduction whose order the CPU or BLAS could change: 1e-5 leaves a 10x-100x margin.
     */
    static final double TOL = 1e-5;

    @TempDir
    static Path dir;

    record Entry(String name, TeacherSpec spec) {}

    static List<Entry> entries = new ArrayList<>();

    @BeforeAll
    static void export() throws IOException {
        PythonReference.assumeAvailable();
        PythonReference.run("export_mixture_kinds.py", dir.toString());
        for (String line : Files.readAllLines(dir.resolve("manifest.txt"))) {
            if (line.isBlank()) continue;
            String[] f = line.split(" ");
            TeacherSpec spec = TeacherSpec.of(TeacherKind.parse(f[1]))
                    .withClasses(Integer.parseInt(f[3]))
                    .withVp(Double.parseDouble(f[4]), Double.parseDouble(f[5]))
                    .withTimeScale(Double.parseDouble(f[6]));
            if (!f[2].equals("-")) spec = spec.withSchedule(DdpmSchedule.parse(f[2]));
            entries.add(new Entry(f[0], spec));
        }
    }

    @TestFactory
    List<DynamicTest> everyConventionGivesTheExactDenoiser() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Entry e : entries) {
            tests.add(DynamicTest.dynamicTest(e.name, () -> {
                try (ScriptModule d = Teachers.load(dir.resolve(e.name + ".pt"), e.spec, Device.CPU)) {
                    double err = maxScaledError(d, e, "");
                    System.out.printf("TeachersTest %-22s max |D - D_ref| / max(1, |x|) = %.2e%n", e.name, err);
                    assertTrue(err <= TOL, e.name + ": error " + err);
                }
            }));
            if (e.spec.kind().isDdpm()) tests.add(DynamicTest.dynamicTest(e.name + " between table entries", () -> {
                try (ScriptModule d = Teachers.load(dir.resolve(e.name + ".pt"), e.spec, Device.CPU); Scope s = Scope.open()) {
                    double err = maxScaledError(d, e, ".between");
                    System.out.printf("TeachersTest %-22s between entries: max scaled error %.2e%n", e.name, err);
                    assertTrue(err <= TOL, e.name + " between entries: error " + err);
                    // round_sigma gives the nearest table entry, the one whose index was used
                    double[] sig = Npy.read(dir.resolve(e.name + ".between.sigma.npy")).toDoubleArray();
                    long[] idx = Npy.read(dir.resolve(e.name + ".between.index.npy")).toLongArray();
                    double[] table = e.spec.ddpmSigmas();
                    double[] rounded = Teachers.roundSigmas(d, sig);
                    for (int i = 0; i < sig.length; i++) assertEquals(table[(int) idx[i]], rounded[i], 1e-12 * table[(int) idx[i]]);
                }
            }));
        }
        return tests;
    }

    private static double maxScaledError(ScriptModule d, Entry e, String suffix) {
        try (Scope s = Scope.open()) {
            Tensor x = Npy.read(dir.resolve(e.name + suffix + ".x.npy"));
            Tensor sigma = Npy.read(dir.resolve(e.name + suffix + ".sigma.npy"));
            double[] ref = Npy.read(dir.resolve(e.name + suffix + ".d.npy")).toDoubleArray();
            Tensor out = e.spec.conditional()
                    ? d.forward(x, sigma, Npy.read(dir.resolve(e.name + suffix + ".labels.npy")))
                    : d.forward(x, sigma);
            assertArrayEquals(x.shape(), out.shape());
            double[] got = out.toDoubleArray(), xs = x.toDoubleArray();
            int dim = (int) x.size(1);
            double worst = 0;
            for (int i = 0; i < got.length; i += dim) {
                double scale = 1;
                for (int j = 0; j < dim; j++) scale = Math.max(scale, Math.abs(xs[i + j]));
                for (int j = 0; j < dim; j++) worst = Math.max(worst, Math.abs(got[i + j] - ref[i + j]) / scale);
            }
            return worst;
        }
    }

    @Test
    void wrapperSurvivesSaveAndLoadAndGradientsFlow() {
        Entry e = entries.stream().filter(x -> x.name.equals("ddpm_v_cosine")).findFirst().orElseThrow();
        try (ScriptModule d = Teachers.load(dir.resolve(e.name + ".pt"), e.spec, Device.CPU);
             ScriptModule back = ScriptModule.load(d.toBytes(), Device.CPU); Scope s = Scope.open()) {
            Tensor x = Npy.read(dir.resolve(e.name + ".x.npy"));
            Tensor sigma = Npy.read(dir.resolve(e.name + ".sigma.npy"));
            // exact by construction: the reloaded module runs the same graph on the same inputs in this process
            assertTrue(d.forward(x, sigma).allClose(back.forward(x, sigma), 0, 0));
            assertTrue(back.hasMethod("round_sigma"));
            Tensor xg = x.copy().requiresGrad(true);
            d.forward(xg, sigma).sum().backward();
            assertTrue(xg.grad() != null && xg.grad().allFinite());
        }
    }

    @Test
    void signatureMismatchesAreInvalidInput() {
        // an unconditional teacher read as class-conditional: forward takes no class_labels
        InvalidInputException a = assertThrows(InvalidInputException.class,
                () -> Teachers.load(dir.resolve("edm.pt"), TeacherSpec.of(TeacherKind.EDM).withClasses(2), Device.CPU));
        System.out.println("TeachersTest message: " + a.getMessage());
        assertTrue(a.getMessage().contains("edm.pt") && a.getMessage().contains("class_labels"), a.getMessage());
        assertEquals(1, a.getMessage().lines().count(), a.getMessage());
        // a conditional teacher read as unconditional: its forward needs 3 arguments
        InvalidInputException b = assertThrows(InvalidInputException.class,
                () -> Teachers.load(dir.resolve("ddpm_eps_cosine_cond.pt"), TeacherSpec.of(TeacherKind.DDPM_EPS), Device.CPU));
        System.out.println("TeachersTest message: " + b.getMessage());
        assertTrue(b.getMessage().contains("--teacher-kind ddpm-eps"), b.getMessage());
        assertEquals(1, b.getMessage().lines().count(), b.getMessage());
        // a 2-D teacher on 3-D data: found by the dummy forward
        try (ScriptModule d = Teachers.load(dir.resolve("vp_eps.pt"), TeacherSpec.of(TeacherKind.VP_EPS), Device.CPU)) {
            Teachers.check(d, TeacherSpec.of(TeacherKind.VP_EPS), new long[] {2}, Device.CPU, "vp_eps.pt");
            InvalidInputException c = assertThrows(InvalidInputException.class,
                    () -> Teachers.check(d, TeacherSpec.of(TeacherKind.VP_EPS), new long[] {3}, Device.CPU, "vp_eps.pt"));
            System.out.println("TeachersTest message: " + c.getMessage());
            assertTrue(c.getMessage().startsWith("vp_eps.pt does not fit"), c.getMessage());
            assertEquals(1, c.getMessage().lines().count(), c.getMessage());
        }
        InvalidInputException missing = assertThrows(InvalidInputException.class,
                () -> Teachers.load(dir.resolve("nope.pt"), TeacherSpec.of(TeacherKind.EDM), Device.CPU));
        assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
    }

    @Test
    void vpTimeInvertsVpSigma() {
        TeacherSpec s = TeacherSpec.of(TeacherKind.VP_EPS);
        for (double t : new double[] {1e-3, 0.01, 0.3, 0.9, 1.0}) assertEquals(t, s.vpTime(s.vpSigma(t)), 1e-12);
        double[] lin = DdpmSchedule.LINEAR.sigmas(1000), cos = DdpmSchedule.COSINE.sigmas(1000);
        for (int i = 1; i < 1000; i++) assertTrue(lin[i] > lin[i - 1] && cos[i] > cos[i - 1]);
    }
}
