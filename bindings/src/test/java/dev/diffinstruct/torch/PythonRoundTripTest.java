package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.assertExactlyEqual;
import static dev.diffinstruct.torch.TestSupport.assertParity;
import static dev.diffinstruct.torch.TestSupport.fixture;
import static dev.diffinstruct.torch.TestSupport.python;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What Java writes (TorchScript modules, torch.save lists, .npy files), read back by Python. */
class PythonRoundTripTest {
    @TempDir
    Path dir;

    /** Loads a module, runs it on an .npy input and saves the output; prints its attributes. */
    private static final String JIT_EVAL = """
            import sys, numpy as np, torch
            m = torch.jit.load(sys.argv[1])
            z = torch.from_numpy(np.load(sys.argv[2]))
            with torch.no_grad():
                np.save(sys.argv[3], m(z).numpy())
            print("latent_shape=" + ",".join(str(int(v)) for v in m.latent_shape))
            print("grid=" + ",".join(str(int(v)) for v in m.grid))
            print("scale=%r" % m.scale)
            """;

    @Test
    void moduleBuiltInJavaRunsInPython() {
        Path saved = dir.resolve("scaled_mlp.pt");
        Path zFile = dir.resolve("z.npy");
        Path pyOut = dir.resolve("out.npy");
        try (Scope s = Scope.open(); ScriptModule mlp = ScriptModule.load(fixture("mlp.pt"));
             Generator g = new Generator(3)) {
            try (ScriptModule wrapper = ScriptModule.create("ScaledDenoiser")) {
                wrapper.registerModule("net", mlp)
                        .setAttribute("scale", 0.375)
                        .setAttribute("latent_shape", new long[] {2})
                        .setAttribute("grid", new long[] {1, 8, 8})
                        .define("def forward(self, z: Tensor) -> Tensor:\n    return self.net.forward(z * self.scale)\n");
                wrapper.save(saved);
            }
            Tensor z = Tensor.randn(g, 16, 2);
            Npy.write(zFile, z);

            Tensor javaOut;
            try (ScriptModule reloaded = ScriptModule.load(saved)) {
                javaOut = reloaded.forward(z);
                assertEquals(0.375, reloaded.getDouble("scale"));
                assertArrayEquals(new long[] {1, 8, 8}, reloaded.getIntList("grid"));
            }
            assertParity("wrapper = net(z * scale) in Java", mlp.forward(z.mul(0.375)), javaOut);

            String printed = python(JIT_EVAL, saved.toString(), zFile.toString(), pyOut.toString());
            assertEquals(List.of("latent_shape=2", "grid=1,8,8", "scale=0.375"), printed.strip().lines().toList());
            assertParity("Python's output of the Java-built module", javaOut, Npy.read(pyOut));
        }
    }

    @Test
    void pickledTensorsLoadWithTorchLoad() throws IOException {
        Path file = dir.resolve("tensors.pt");
        try (Scope s = Scope.open()) {
            List<Tensor> ts = List.of(
                    Tensor.of(new float[] {1.5f, -2f, 3.25f, 0f, 1e-8f, -7f}, 2, 3),
                    Tensor.of(new double[] {Math.PI, -Math.E, 1e300, -0.0}, 4),
                    Tensor.of(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 2, 2),
                    Tensor.scalar(0.25));
            Files.write(file, Torch.pickle(ts));
            String printed = python("""
                    import sys, numpy as np, torch
                    ts = torch.load(sys.argv[1])  # PyTorch >= 2.6: weights_only=True by default, and it must load
                    assert isinstance(ts, tuple), type(ts)
                    for i, t in enumerate(ts):
                        np.save("%s/t%d.npy" % (sys.argv[2], i), t.numpy())
                        print(str(t.dtype), list(t.shape))
                    """, file.toString(), dir.toString());
            assertEquals(List.of("torch.float32 [2, 3]", "torch.float64 [4]", "torch.int64 [2, 2]", "torch.float32 []"),
                    printed.strip().lines().toList());
            for (int i = 0; i < ts.size(); i++) {
                Tensor back = Npy.read(dir.resolve("t" + i + ".npy"));
                assertEquals(ts.get(i).dtype(), back.dtype(), "dtype of tensor " + i);
                // exact by construction: a save/load round trip copies the bytes
                assertExactlyEqual("tensor " + i + " through torch.load", ts.get(i), back);
            }
            assertArrayEquals(ts.get(2).toLongArray(), Npy.read(dir.resolve("t2.npy")).toLongArray(), "int64 extremes");
        }
    }

    @Test
    void torchSaveFromPythonUnpicklesInJava() throws IOException {
        Path file = dir.resolve("from_python.pt");
        python("""
                import sys, torch
                torch.save([torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, torch.tensor([7, -9])], sys.argv[1])
                """, file.toString());
        try (Scope s = Scope.open()) {
            List<Tensor> ts = Torch.unpickle(Files.readAllBytes(file));
            assertEquals(2, ts.size());
            // exact: k / 4 is exact in float32, and unpickling copies the bytes
            assertExactlyEqual("float tensor", Tensor.of(new float[] {0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, 2, 3), ts.get(0));
            assertEquals(DType.INT64, ts.get(1).dtype());
            assertArrayEquals(new long[] {7, -9}, ts.get(1).toLongArray());
        }
    }

    /**
     * Npy.write in each dtype, checked by numpy against values Python computes itself; numpy's
     * re-save of what it read must then read back identically in Java.
     */
    @Test
    void npyFilesLoadWithNumpy() {
        try (Scope s = Scope.open()) {
            Tensor base = Tensor.arange(0, 24, 1, DType.FLOAT64, Device.CPU).mul(0.5).sub(3);
            var cases = new LinkedHashMap<String, Tensor>();
            cases.put("f4", base.to(DType.FLOAT32).reshape(2, 3, 4));
            cases.put("f8", base.reshape(4, 6));
            cases.put("i8", base.to(DType.INT64).reshape(24));
            cases.put("i4", base.to(DType.INT32).reshape(6, 4));
            cases.put("u1", base.add(3).to(DType.UINT8).reshape(3, 8));
            cases.put("b1", base.gt(0).reshape(2, 12));
            cases.put("scalar", Tensor.scalar(-3, DType.FLOAT64, Device.CPU));
            cases.put("empty", Tensor.zeros(0, 3));
            cases.put("f2", base.to(DType.FLOAT16).reshape(24)); // written as float32
            for (var e : cases.entrySet()) Npy.write(dir.resolve(e.getKey() + ".npy"), e.getValue());
            String printed = python("""
                    import sys, numpy as np
                    d = sys.argv[1]
                    base = np.arange(24, dtype=np.float64) * 0.5 - 3
                    want = {
                        "f4": base.astype(np.float32).reshape(2, 3, 4),
                        "f8": base.reshape(4, 6),
                        "i8": base.astype(np.int64),
                        "i4": base.astype(np.int32).reshape(6, 4),
                        "u1": (base + 3).astype(np.uint8).reshape(3, 8),
                        "b1": (base > 0).reshape(2, 12),
                        "scalar": np.array(-3.0),
                        "empty": np.zeros((0, 3), np.float32),
                        "f2": base.astype(np.float16).astype(np.float32),
                    }
                    for name, w in want.items():
                        a = np.load("%s/%s.npy" % (d, name))
                        assert a.dtype == w.dtype and a.shape == w.shape, (name, a.dtype, a.shape, w.dtype, w.shape)
                        assert np.array_equal(a, w), (name, a, w)
                        np.save("%s/%s.numpy.npy" % (d, name), a)
                        print(name, a.dtype.str, a.shape)
                    """, dir.toString());
            assertEquals(cases.size(), printed.strip().lines().count(), printed);
            for (var e : cases.entrySet()) {
                Tensor back = Npy.read(dir.resolve(e.getKey() + ".numpy.npy"));
                // exact by construction: numpy re-saves the bytes it read (f2 goes through float32 exactly)
                assertExactlyEqual(e.getKey() + " via numpy", e.getValue(), back);
            }
        }
    }
}
