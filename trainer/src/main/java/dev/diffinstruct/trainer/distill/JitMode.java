package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Torch;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Switches off TorchScript's graph-executor optimisation ({@code torch._C._jit_set_graph_executor_optimize(False)})
 * for the whole process.
 *
 * <p>Why: with it on, a module runs its first calls as profiling runs and later ones through an
 * optimised graph (autodiff subgraphs, specialised shapes) whose floating-point results differ in
 * the last bits. A module reloaded from a checkpoint starts profiling afresh, so a resumed run
 * would drift from an uninterrupted one. With it off every call runs the same graph and resume is
 * bit-exact (ResumeTest). On the small CPU models measured the speed is unchanged.
 *
 * <p>The shim has no entry point for this yet, so the libtorch function is called directly
 * through the FFM linker (its C++ symbol, found through the already-loaded shim's dependencies).
 */
public final class JitMode {
    private static final String SYMBOL = "_ZN5torch3jit24setGraphExecutorOptimizeEb"; // torch::jit::setGraphExecutorOptimize(bool)
    private static final String GETTER = "_ZN5torch3jit24getGraphExecutorOptimizeEv"; // torch::jit::getGraphExecutorOptimize()

    private JitMode() {}

    /** Sets the process-wide graph-executor optimisation; false if libtorch does not export the switch. */
    public static synchronized boolean setOptimize(boolean on) {
        Optional<MethodHandle> h = handle(SYMBOL, FunctionDescriptor.ofVoid(ValueLayout.JAVA_BOOLEAN));
        if (h.isEmpty()) return false;
        try {
            h.get().invokeExact(on);
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The current setting, or empty if it cannot be read. */
    public static Optional<Boolean> optimize() {
        Optional<MethodHandle> h = handle(GETTER, FunctionDescriptor.of(ValueLayout.JAVA_BOOLEAN));
        if (h.isEmpty()) return Optional.empty();
        try {
            return Optional.of((boolean) h.get().invokeExact());
        } catch (Throwable t) {
            return Optional.empty();
        }
    }

    private static Optional<MethodHandle> handle(String symbol, FunctionDescriptor fd) {
        Torch.version(); // makes sure the shim (and libtorch behind it) is loaded
        return SymbolLookup.loaderLookup().find(symbol).map(addr -> Linker.nativeLinker().downcallHandle(addr, fd));
    }
}
