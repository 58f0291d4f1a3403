package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.fixture;
import static dev.diffinstruct.torch.TestSupport.liveTensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.diffinstruct.torch.ffi.Dishim;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Bad input gives a Java exception that names the problem, and the process lives on. */
class ErrorsTest {
    @TempDir
    Path dir;

    /** Asserts that the call throws {@code type} whose message contains every one of {@code words} (any case). */
    static <T extends Throwable> T assertFailsNaming(Class<T> type, Executable call, String... words) {
        T e = assertThrows(type, call);
        String msg = String.valueOf(e.getMessage());
        for (String w : words)
            assertTrue(msg.toLowerCase(Locale.ROOT).contains(w.toLowerCase(Locale.ROOT)),
                    () -> "message does not name '" + w + "': " + msg);
        return e;
    }

    // ---- files ------------------------------------------------------------------------------------

    @Test
    void missingModuleFile() {
        Path missing = dir.resolve("nope.pt");
        ModelFileException e = assertFailsNaming(ModelFileException.class, () -> ScriptModule.load(missing), "no such file");
        assertEquals(missing, e.path());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void directoryIsNotAModule() {
        assertFailsNaming(ModelFileException.class, () -> ScriptModule.load(dir), "directory");
    }

    @Test
    void corruptModuleFiles() {
        for (String name : List.of("corrupt_random.pt", "corrupt_truncated.pt")) {
            Path p = fixture(name);
            ModelFileException e = assertFailsNaming(ModelFileException.class, () -> ScriptModule.load(p),
                    "not a valid TorchScript file");
            assertEquals(p, e.path());
            assertTrue(e.nativeMessage().length() > (p + ": not a valid TorchScript file: ").length(),
                    "libtorch's reason is missing: " + e.getMessage());
        }
    }

    @Test
    void damagedZipEntriesAreCaughtBeforeLibtorch() throws Exception {
        // one flipped byte inside a stored tensor: only the entry's CRC can tell (libtorch reads it silently)
        byte[] good = java.nio.file.Files.readAllBytes(fixture("mlp.pt"));
        java.util.zip.ZipEntry data = null;
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(fixture("mlp.pt").toFile())) {
            for (var e : java.util.Collections.list(z.entries())) if (e.getName().contains("/data/") && e.getSize() > 16) data = e;
        }
        assertNotNull(data);
        byte[] bad = good.clone();
        int at = indexOf(good, data.getName().getBytes(java.nio.charset.StandardCharsets.UTF_8)); // the local header's name
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(good).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int start = at + data.getName().length() + Short.toUnsignedInt(b.getShort(at - 2));
        bad[start + 5] ^= 0x10;
        Path f = dir.resolve("flipped.pt");
        java.nio.file.Files.write(f, bad);
        assertFailsNaming(ModelFileException.class, () -> ScriptModule.load(f), "not a valid TorchScript file", "CRC mismatch", data.getName());
        assertFailsNaming(ModelFileException.class, () -> ScriptModule.load(bad, Device.CPU), "CRC mismatch");
        try (ScriptModule ok = ScriptModule.load(good, Device.CPU)) {
            assertTrue(ok.parameterCount() > 0);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void corruptModuleBytes() {
        assertFailsNaming(TorchException.class, () -> ScriptModule.load(new byte[] {1, 2, 3, 4}, Device.CPU), "Module.load");
        assertFailsNaming(TorchException.class, () -> ScriptModule.load(new byte[0], Device.CPU), "empty module data");
    }

    @Test
    void notAnNpyFile() {
        assertFailsNaming(ModelFileException.class, () -> Npy.read(fixture("not_npy.npy")), "not an .npy file");
        assertFailsNaming(ModelFileException.class, () -> Npy.read(fixture("mlp.pt")), "not an .npy file");
        assertFailsNaming(ModelFileException.class, () -> Npy.read(dir.resolve("absent.npy")), "absent.npy");
    }

    // ---- shapes and dtypes --------------------------------------------------------------------------

    @Test
    void matmulShapeMismatch() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(2, 3), b = Tensor.ones(4, 5);
            TorchException e = assertFailsNaming(TorchException.class, () -> a.matmul(b), "matmul", "2x3", "4x5");
            assertEquals("matmul", e.operation());
            assertEquals("matmul: " + e.nativeMessage().lines().findFirst().orElseThrow().strip(), e.summary());
            assertTrue(e.nativeMessage().contains("shapes cannot be multiplied"), e.nativeMessage());
        }
    }

    @Test
    void matmulDtypeMismatch() {
        try (Scope s = Scope.open()) {
            Tensor f = Tensor.ones(2, 2), d = Tensor.ones(DType.FLOAT64, Device.CPU, 2, 2);
            assertFailsNaming(TorchException.class, () -> f.matmul(d), "matmul", "Float", "Double");
        }
    }

    @Test
    void binaryShapeMismatch() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(3), b = Tensor.ones(4);
            assertFailsNaming(TorchException.class, () -> a.add(b), "add", "size of tensor a (3)", "tensor b (4)");
            assertFailsNaming(TorchException.class, () -> a.reshape(2, 2), "reshape [2, 2]", "invalid for input of size 3");
        }
    }

    @Test
    void moduleForwardShapeMismatch() {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture("mlp.pt"))) {
            Tensor wide = Tensor.ones(4, 3);
            TorchException e = assertFailsNaming(TorchException.class, () -> m.forward(wide), "forward", "4x3", "2x32");
            assertTrue(e.nativeMessage().contains("shapes cannot be multiplied"), e.nativeMessage());
            // the one-line form names the cause, not the interpreter's preamble
            assertTrue(e.summary().startsWith("method 'forward': "), e.summary());
            assertTrue(e.summary().contains("shapes cannot be multiplied (4x3 and 2x32)"), e.summary());
            assertEquals(1, e.summary().lines().count());
        }
    }

    @Test
    void moduleForwardDtypeMismatch() {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture("mlp.pt"))) {
            Tensor ints = Tensor.of(new long[] {1, 2, 3, 4}, 2, 2);
            assertFailsNaming(TorchException.class, () -> m.forward(ints), "forward", "same dtype");
        }
    }

    @Test
    void wrongNumberOfForwardArguments() {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture("conv.pt"))) {
            Tensor x = Tensor.ones(1, 1, 8, 8);
            assertFailsNaming(TorchException.class, () -> m.forward(x), "forward", "sigma");
            assertFailsNaming(TorchException.class, () -> m.forward(x, x, x), "forward", "argument");
        }
    }

    @Test
    void wrongTypeOfForwardArgument() {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture("conv.pt"))) {
            Tensor x = Tensor.ones(1, 1, 8, 8);
            assertFailsNaming(TorchException.class, () -> m.forward(x, 0.5), "forward", "sigma", "Tensor", "float");
            assertFailsNaming(TorchException.class, () -> m.forward(x, null), "forward", "sigma", "Tensor");
            assertFailsNaming(IllegalArgumentException.class, () -> m.forward(x, "0.5"), "argument 1", "String");
        }
    }

    @Test
    void unknownMethod() {
        try (ScriptModule m = ScriptModule.load(fixture("mlp.pt"))) {
            assertFailsNaming(TorchException.class, () -> m.run("denoise"), "no method 'denoise'");
            assertFailsNaming(TorchException.class, () -> m.getDouble("missing_attr"), "missing_attr");
        }
    }

    @Test
    void badTorchScriptSource() {
        try (ScriptModule m = ScriptModule.create("Broken")) {
            assertFailsNaming(TorchException.class, () -> m.define("def forward(self, x: Tensor) -> Tensor:\n    return self.nope(x)\n"),
                    "Module.define", "nope");
        }
    }

    // ---- closed objects -----------------------------------------------------------------------------

    @Test
    void closedTensor() {
        Tensor t = Tensor.ones(2);
        t.close();
        assertTrue(t.isClosed());
        assertFailsNaming(IllegalStateException.class, t::numel, "tensor is closed");
        assertFailsNaming(IllegalStateException.class, () -> t.add(1), "tensor is closed");
        try (Tensor other = Tensor.ones(2)) {
            assertFailsNaming(IllegalStateException.class, () -> other.add(t), "tensor is closed");
        }
        t.close(); // closing twice is allowed
    }

    @Test
    void closedModule() {
        ScriptModule m = ScriptModule.load(fixture("mlp.pt"));
        m.close();
        try (Tensor x = Tensor.ones(1, 2)) {
            assertFailsNaming(IllegalStateException.class, () -> m.forward(x), "module is closed");
        }
        assertFailsNaming(IllegalStateException.class, m::methods, "module is closed");
    }

    @Test
    void closedOptimizer() {
        try (Tensor p = Tensor.ones(3).requiresGrad(true)) {
            Adam adam = new Adam(List.of(p), Adam.Options.lr(0.1));
            adam.close();
            assertFailsNaming(IllegalStateException.class, adam::step, "optimizer is closed");
            assertFailsNaming(IllegalStateException.class, () -> adam.setLr(1), "optimizer is closed");
        }
    }

    @Test
    void closedGenerator() {
        Generator g = new Generator(1);
        g.close();
        assertFailsNaming(IllegalStateException.class, () -> Tensor.randn(g, 3), "generator is closed");
        assertFailsNaming(IllegalStateException.class, g::state, "generator is closed");
    }

    @Test
    void adamRefusesNonLeafParameters() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.ones(3).requiresGrad(true);
            Tensor notLeaf = p.mul(2);
            assertFailsNaming(TorchException.class, () -> new Adam(List.of(notLeaf), Adam.Options.lr(0.1)), "leaf");
            assertFailsNaming(TorchException.class, () -> new Adam(List.of(Tensor.ones(2)), Adam.Options.lr(0.1)), "requires_grad");
        }
    }

    // ---- the raw C API ------------------------------------------------------------------------------

    private static String lastError() {
        return Dishim.dt_last_error().reinterpret(Long.MAX_VALUE).getString(0);
    }

    @Test
    void foreignHandleIsRefusedByTheShim() {
        try (Scope s = Scope.open(); ScriptModule m = ScriptModule.load(fixture("mlp.pt"))) {
            MemorySegment module = m.h();
            Dishim.dt_clear_error();
            assertEquals(-1, Dishim.dt_tensor_numel(module));
            assertTrue(lastError().contains("not a tensor handle"), lastError());

            Dishim.dt_clear_error();
            assertEquals(0, Dishim.dt_unary(Dishim.DT_OP_EXP(), module).address());
            assertTrue(lastError().contains("not a tensor handle"), lastError());

            Tensor t = Tensor.ones(2);
            Dishim.dt_clear_error();
            assertEquals(-1, Dishim.dt_module_train(t.h(), 1));
            assertTrue(lastError().contains("not a module handle"), lastError());

            Dishim.dt_clear_error();
            assertEquals(-1, Dishim.dt_adam_step(t.h()));
            assertTrue(lastError().contains("not a optimizer handle") || lastError().contains("not an optimizer handle"), lastError());
            Dishim.dt_tensor_free(module); // a free of the wrong kind must be ignored ...
            assertEquals(2, m.forward(Tensor.ones(1, 2)).numel()); // ... and leave the module working
        }
    }

    @Test
    void nullHandleIsRefusedByTheShim() {
        Native.ensureLoaded();
        Dishim.dt_clear_error();
        assertEquals(-1, Dishim.dt_tensor_numel(MemorySegment.NULL));
        assertTrue(lastError().contains("null tensor handle"), lastError());

        Dishim.dt_clear_error();
        assertEquals(0, Dishim.dt_module_load(MemorySegment.NULL, MemorySegment.NULL).address());
        assertTrue(lastError().contains("null path"), lastError());

        Dishim.dt_clear_error();
        assertEquals(0, Dishim.dt_matmul(MemorySegment.NULL, MemorySegment.NULL).address());
        assertTrue(lastError().contains("null tensor handle"), lastError());

        try (Tensor t = Tensor.ones(2)) {
            Dishim.dt_clear_error();
            assertEquals(-1, Dishim.dt_tensor_item(t.h(), MemorySegment.NULL));
            assertTrue(lastError().contains("null output pointer"), lastError());
        }
        Dishim.dt_tensor_free(MemorySegment.NULL); // freeing NULL is a no-op
        Dishim.dt_module_free(MemorySegment.NULL);
        Dishim.dt_adam_free(MemorySegment.NULL);
        Dishim.dt_generator_free(MemorySegment.NULL);
    }

    @Test
    void lastErrorIsPerFailureAndClearable() {
        Native.ensureLoaded();
        Dishim.dt_clear_error();
        assertEquals("", lastError());
        assertEquals(-1, Dishim.dt_set_num_threads(0));
        assertTrue(lastError().contains("thread count must be >= 1"), lastError());
        Dishim.dt_clear_error();
        assertEquals("", lastError());
    }

    // ---- devices ------------------------------------------------------------------------------------

    @Test
    void cudaOnCpuOnlyLibtorch() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Torch.cudaAvailable(), "this libtorch sees a GPU");
        assertFailsNaming(TorchException.class, () -> Device.cuda(0).check(), "cuda:0", "CUDA");
        assertFailsNaming(TorchException.class, () -> Tensor.zeros(DType.FLOAT32, Device.cuda(0), 2), "zeros", "CUDA");
        assertFailsNaming(TorchException.class, () -> new Generator(1, Device.cuda(0)), "CUDA");
        try (Tensor t = Tensor.ones(2)) {
            assertFailsNaming(TorchException.class, () -> t.to(Device.cuda(0)), "CUDA");
        }
        try (ScriptModule m = ScriptModule.load(fixture("mlp.pt"))) {
            assertFailsNaming(TorchException.class, () -> m.to(Device.cuda(0)), "CUDA");
        }
        assertNotNull(Device.CPU.check());
    }

    @Test
    void badDeviceSpelling() {
        assertFailsNaming(IllegalArgumentException.class, () -> Device.parse("gpu"), "unknown device 'gpu'");
        assertFailsNaming(IllegalArgumentException.class, () -> Device.cuda(-1), "cuda index");
    }

    @Test
    void itemOfManyElements() {
        try (Tensor t = Tensor.ones(3)) {
            assertFailsNaming(TorchException.class, t::item, "item", "one-element", "[3]");
        }
    }

    @Test
    void processSurvivesManyErrors() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(2, 3);
            long before = liveTensors();
            for (int i = 0; i < 200; i++) assertThrows(TorchException.class, () -> a.matmul(a));
            assertEquals(before, liveTensors(), "failed calls must not leave handles behind");
            assertEquals(3, a.matmul(a.transpose(0, 1)).toFloatArray()[0], 0);
        }
    }
}
