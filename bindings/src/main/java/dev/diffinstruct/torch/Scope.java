package dev.diffinstruct.torch;


/**
 * Owns the tensors created while it is open on this thread, and frees them all when it closes
 * (like DJL's NDManager). Scopes nest; {@link #keep} hands a result to the enclosing scope, or to
 * the caller when there is none, so it outlives this one:
 *
 * <pre>{@code
 * Tensor loss;
 * try (Scope s = Scope.open()) {
 *     Tensor d = x.sub(y);                // freed when s closes
 *     loss = s.keep(d.square().mean());   // survives s
 * }
 * }</pre>
 *
 * Tensors created with no scope open belong to the caller, who closes them. Scopes are confined to
 * the thread that opened them and must be closed in the reverse order of opening.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final Scope parent;
    private final Thread thread;
    private Tensor[] owned = new Tensor[16];
    private int size;
    private int live;
    private boolean closed;

    private Scope(Scope parent) {
        this.parent = parent;
        this.thread = Thread.currentThread();
    }

    /** Opens a scope nested in this thread's current one. */
    public static Scope open() {
        Scope s = new Scope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /** This thread's innermost open scope, or null. */
    public static Scope current() {
        return CURRENT.get();
    }

    /** Moves t to the enclosing scope (or to the caller if there is none) and returns it. */
    public <T extends Tensor> T keep(T t) {
        if (t.owner != this) throw new IllegalArgumentException("tensor is not owned by this scope");
        forget(t);
        if (parent != null) parent.adopt(t);
        return t;
    }

    /** Moves every given tensor out of this scope, as {@link #keep(Tensor)} does. */
    public void keepAll(Iterable<? extends Tensor> ts) {
        for (Tensor t : ts) keep(t);
    }

    /** Takes ownership of a caller-owned tensor (or one from another scope). */
    public <T extends Tensor> T adopt(T t) {
        if (closed) throw new IllegalStateException("scope is closed");
        if (t.owner != null) t.owner.forget(t);
        if (size == owned.length) compact();
        t.owner = this;
        t.slot = size;
        owned[size++] = t;
        live++;
        return t;
    }

    /** Number of tensors this scope still owns. */
    public int size() {
        return live;
    }

    void forget(Tensor t) {
        if (t.owner != this) return;
        owned[t.slot] = null;
        t.owner = null;
        t.slot = -1;
        live--;
    }

    private void compact() {
        if (live < size / 2) {
            int j = 0;
            for (int i = 0; i < size; i++) {
                Tensor t = owned[i];
                if (t != null) {
                    t.slot = j;
                    owned[j++] = t;
                }
            }
            java.util.Arrays.fill(owned, j, size, null);
            size = j;
        } else {
            owned = java.util.Arrays.copyOf(owned, owned.length * 2);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread) throw new IllegalStateException("scope closed from another thread");
        if (CURRENT.get() != this) throw new IllegalStateException("scopes must be closed innermost first");
        closed = true;
        CURRENT.set(parent);
        for (int i = size - 1; i >= 0; i--) {
            Tensor t = owned[i];
            if (t != null) {
                t.owner = null;
                t.free();
            }
        }
        owned = null;
        live = 0;
        size = 0;
    }

    static void register(Tensor t) {
        Scope s = CURRENT.get();
        if (s != null) s.adopt(t);
    }

    // Used by Tensor.close: an explicitly closed tensor leaves its scope at once.
    static void unregister(Tensor t) {
        if (t.owner != null) t.owner.forget(t);
    }

}
