package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.liveTensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Ownership of native tensors by {@link Scope}, counted with the shim's live-handle counters. */
class ScopeTest {
    private long baseline;

    @BeforeEach
    void noScopeOpen() {
        assertNull(Scope.current(), "a previous test left a scope open");
        baseline = liveTensors();
    }

    @AfterEach
    void nothingLeaked() {
        assertNull(Scope.current(), "test left a scope open");
        assertEquals(baseline, liveTensors(), "tensor handles leaked");
    }

    @Test
    void tensorsAreFreedWhenTheScopeCloses() {
        Tensor a, b, c;
        try (Scope s = Scope.open()) {
            assertSame(s, Scope.current());
            a = Tensor.ones(4, 4);
            b = a.add(1);
            c = b.mul(a).sum(); // two tensors: the product and its sum
            assertEquals(baseline + 4, liveTensors());
            assertEquals(4, s.size());
        }
        assertNull(Scope.current());
        assertEquals(baseline, liveTensors());
        for (Tensor t : List.of(a, b, c)) {
            assertTrue(t.isClosed());
            assertThrows(IllegalStateException.class, t::numel);
        }
    }

    @Test
    void keepMovesToTheParentScope() {
        try (Scope outer = Scope.open()) {
            Tensor kept;
            try (Scope inner = Scope.open()) {
                Tensor tmp = Tensor.full(2, 3);
                kept = inner.keep(tmp.square());
                assertEquals(1, inner.size());
                assertEquals(1, outer.size());
            }
            assertFalse(kept.isClosed());
            assertEquals(baseline + 1, liveTensors());
            assertEquals(12, kept.sum().item(), 0);
            assertEquals(2, outer.size()); // kept and the sum
            outer.close();
            assertTrue(kept.isClosed());
        }
    }

    @Test
    void keepWithoutParentHandsToTheCaller() {
        Tensor kept;
        try (Scope s = Scope.open()) {
            kept = s.keep(Tensor.ones(5).mul(2));
        }
        assertFalse(kept.isClosed());
        assertEquals(baseline + 1, liveTensors());
        try (kept; Tensor sum = kept.sum()) { // no scope open: both are the caller's to close
            assertEquals(10, sum.item(), 0);
            assertEquals(baseline + 2, liveTensors());
        }
        assertTrue(kept.isClosed());
    }

    @Test
    void keepRefusesForeignTensors() {
        try (Scope outer = Scope.open()) {
            Tensor t = Tensor.ones(1);
            try (Scope inner = Scope.open()) {
                assertThrows(IllegalArgumentException.class, () -> inner.keep(t));
            }
            assertFalse(t.isClosed(), "a refused keep must not move the tensor");
        }
    }

    @Test
    void nestedScopesFreeOnlyTheirOwn() {
        try (Scope outer = Scope.open()) {
            Tensor o = Tensor.ones(3);
            try (Scope middle = Scope.open()) {
                Tensor m = o.add(1);
                try (Scope inner = Scope.open()) {
                    assertSame(inner, Scope.current());
                    m.add(o);
                    o.mul(2);
                    assertEquals(baseline + 4, liveTensors());
                }
                assertSame(middle, Scope.current());
                assertEquals(baseline + 2, liveTensors());
                assertFalse(m.isClosed());
            }
            assertSame(outer, Scope.current());
            assertEquals(baseline + 1, liveTensors());
            assertFalse(o.isClosed());
        }
    }

    @Test
    void closingATensorEarlyRemovesItFromItsScope() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(2);
            Tensor b = Tensor.ones(2);
            a.close();
            assertEquals(1, s.size());
            assertEquals(baseline + 1, liveTensors(), "the handle is freed at once");
            assertFalse(b.isClosed());
        }
        assertEquals(baseline, liveTensors(), "no double free, no leak");
    }

    @Test
    void manyTensorsWithEarlyClosesAreAllFreed() {
        try (Scope s = Scope.open()) {
            List<Tensor> ts = new ArrayList<>();
            for (int i = 0; i < 1000; i++) ts.add(Tensor.scalar(i));
            for (int i = 0; i < 1000; i += 2) ts.get(i).close();
            for (int i = 0; i < 1000; i++) ts.add(Tensor.scalar(-i)); // grows and compacts the table
            assertEquals(1500, s.size());
            assertEquals(baseline + 1500, liveTensors());
            assertEquals(999, ts.get(999).item(), 0);
        }
    }

    @Test
    void adoptTakesACallerOwnedTensor() {
        Tensor free = Tensor.ones(2);
        try (Scope s = Scope.open()) {
            assertSame(free, s.adopt(free));
            assertEquals(1, s.size());
        }
        assertTrue(free.isClosed());
    }

    @Test
    void closingOutOfOrderIsRefused() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        Tensor t = Tensor.ones(1);
        IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
        assertTrue(e.getMessage().contains("innermost first"), e.getMessage());
        assertSame(inner, Scope.current(), "the refused close changed nothing");
        assertFalse(t.isClosed());
        inner.close();
        outer.close();
        assertTrue(t.isClosed());
        inner.close(); // closing again is a no-op
    }

    @Test
    void closingFromAnotherThreadIsRefused() throws Exception {
        try (Scope s = Scope.open()) {
            Throwable[] thrown = new Throwable[1];
            Thread other = new Thread(() -> {
                try {
                    s.close();
                } catch (Throwable e) {
                    thrown[0] = e;
                }
            });
            other.start();
            other.join();
            assertTrue(thrown[0] instanceof IllegalStateException, "got " + thrown[0]);
        }
    }

    @Test
    void scopesAreThreadConfined() throws Exception {
        try (Scope s = Scope.open()) {
            Scope[] seen = new Scope[1];
            Thread other = new Thread(() -> seen[0] = Scope.current());
            other.start();
            other.join();
            assertNull(seen[0], "another thread must not see this thread's scope");
        }
    }

    @Test
    void noGradDisablesAndRestoresGradMode() {
        assertTrue(Torch.gradEnabled());
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(2).requiresGrad(true);
            try (Torch.GradMode off = Torch.noGrad()) {
                assertFalse(Torch.gradEnabled());
                Tensor y = w.mul(3);
                assertFalse(y.requiresGrad(), "an op under no_grad must not record history");
                try (Torch.GradMode on = Torch.enableGrad()) {
                    assertTrue(Torch.gradEnabled());
                    assertTrue(w.mul(3).requiresGrad());
                }
                assertFalse(Torch.gradEnabled(), "enableGrad restores the no-grad mode it found");
                try (Torch.GradMode again = Torch.noGrad()) {
                    assertFalse(Torch.gradEnabled());
                }
                assertFalse(Torch.gradEnabled(), "nested noGrad restores no-grad, not grad");
            }
            assertTrue(Torch.gradEnabled());
            Tensor z = w.mul(3);
            assertTrue(z.requiresGrad());
            z.sum().backward();
            assertEquals(3, w.grad().toFloatArray()[0], 0);
        }
    }
}
