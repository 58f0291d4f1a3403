package dev.diffinstruct.trainer.run;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.diffinstruct.trainer.InvalidInputException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * What every training run's configuration holds: how long it runs, where, and how it logs and
 * checkpoints. A trainer's configuration extends it with its own fields; the whole object is
 * {@code config.json} beside the outputs and inside every checkpoint (the field names are the JSON
 * names; the defaults are the CLI's, set by the subclass).
 */
public abstract class RunConfig<C extends RunConfig<C>> {
    /** Total steps. */
    public long steps;
    public long seed = 0;
    /** auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N. */
    public String device = "cpu";
    public String out = "out";
    public long logEvery = 100;
    public long ckptEvery = 1000;
    public int keepCheckpoints = 2;
    /**
     * The fields the user set explicitly (null: unknown). Resuming reports only these when they
     * differ from the checkpoint (all of them when unknown). Not stored in config.json.
     */
    public transient Set<String> given;

    /** Fields a resumed run always takes from the request: how long it runs, where, how it logs and checkpoints. */
    static final Set<String> RESUMABLE = Set.of("steps", "logEvery", "ckptEvery", "keepCheckpoints", "out");

    /** Whether the user set {@code field} explicitly; false when that is unknown. */
    public boolean gave(String field) {
        return given != null && given.contains(field);
    }

    /** Checks the bookkeeping fields; throws {@link InvalidInputException} naming the option. */
    protected void validateRun() {
        require(steps >= 1, "--steps must be >= 1, got " + steps);
        require(logEvery >= 1, "--log-every must be >= 1, got " + logEvery);
        require(ckptEvery >= 1, "--ckpt-every must be >= 1, got " + ckptEvery);
        require(keepCheckpoints >= 1, "--keep-checkpoints must be >= 1, got " + keepCheckpoints);
    }

    protected static void require(boolean ok, String message) {
        if (!ok) throw new InvalidInputException(message);
    }

    /**
     * This configuration (a checkpoint's) continued as {@code requested} asks: the bookkeeping
     * fields and {@code alsoChangeable} come from the request, every other field stays the
     * checkpoint's, and those among them that the user gave differently are reported.
     */
    public C resumedAs(C requested, Set<String> alsoChangeable, Consumer<String> report) {
        Set<String> changeable = new HashSet<>(RESUMABLE);
        changeable.addAll(alsoChangeable);
        Map<String, Object> mine = asMap(this), theirs = asMap(requested);
        RunFolder.reportKeptOptions(differences(requested), changeable, requested.given,
                k -> new String[] {show(mine.get(k)), show(theirs.get(k))}, report);
        C cfg = copy();
        cfg.steps = requested.steps;
        cfg.logEvery = requested.logEvery;
        cfg.ckptEvery = requested.ckptEvery;
        cfg.keepCheckpoints = requested.keepCheckpoints;
        cfg.out = requested.out;
        for (String field : alsoChangeable) {
            try {
                java.lang.reflect.Field f = getClass().getField(field);
                f.set(cfg, f.get(requested));
            } catch (ReflectiveOperationException e) {
                throw new IllegalArgumentException(getClass().getSimpleName() + " has no public field " + field, e);
            }
        }
        return cfg;
    }

    // ---- JSON ------------------------------------------------------------------------------------

    protected static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

    public String toJson() {
        return GSON.toJson(this);
    }

    protected static <T> T fromJson(String json, Class<T> type) {
        T c = GSON.fromJson(json, type);
        if (c == null) throw new InvalidInputException("empty config");
        return c;
    }

    @SuppressWarnings("unchecked")
    public C copy() {
        return fromJson(toJson(), (Class<C>) getClass());
    }

    /** The options whose values differ between this and {@code other} (by JSON field name), for the warning a resumed run prints. */
    public List<String> differences(C other) {
        Map<String, Object> a = asMap(this), b = asMap(other);
        TreeMap<String, Object> keys = new TreeMap<>(a);
        keys.putAll(b);
        List<String> out = new ArrayList<>();
        for (String k : keys.keySet()) if (!Objects.equals(a.get(k), b.get(k))) out.add(k);
        return out;
    }

    /** A config value as the user wrote it: JSON, with whole numbers without ".0" (Gson reads every number as a double). */
    private static String show(Object v) {
        if (v == null) return "unset";
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) return Long.toString(d.longValue());
        return GSON.toJson(v);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(RunConfig<?> c) {
        return GSON.fromJson(GSON.toJson(c), Map.class);
    }
}
