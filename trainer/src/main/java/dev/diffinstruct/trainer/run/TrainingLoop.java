package dev.diffinstruct.trainer.run;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.trainer.InvalidInputException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The run loop both trainers share: step counting, the stop request, logging to
 * {@code metrics.jsonl} and the listener, checkpoint timing, wall time across resumed sessions.
 * A trainer plugs in its step, its state and its outputs ({@link Trainer}); the loop writes each
 * checkpoint as {@code state.json} (format, step, skipped, wall time and the trainer's entries),
 * {@code config.json} and the trainer's parts, then the trainer's outputs, so that a long run
 * always offers its latest networks as Python-loadable files.
 */
public final class TrainingLoop<M extends LoggedMetrics<M>> {

    /** How a call to {@link #run} ended. */
    public record Result(long step, boolean complete, boolean stopped, long skippedSteps, double wallSeconds, Path out) {}

    /** What a trainer plugs into the loop. */
    public interface Trainer<M> {
        /** Puts the networks in the modes training runs in; called before the first step of a session. */
        void setModes();

        /** Takes step {@code step} (1-based); returns its metrics (the loop adds timing) when {@code logging}, else null. */
        M step(long step, boolean logging, TrainingListener<M> listener);

        /** The last step's loss for progress displays, NaN where it would cost a host sync. */
        default double lastLoss() {
            return Double.NaN;
        }

        /** Updates skipped so far (non-finite gradients), over all sessions of the run. */
        long skipped();

        /** The trainer's own entries in the checkpoint's state.json. */
        Map<String, Object> state();

        /** The checkpoint's parts beside state.json and config.json (networks, optimisers, RNG states); may refuse (throw). */
        Map<String, byte[]> parts();

        /** Writes the run's outputs (networks, config.json) into the output folder. */
        void writeOutputs();
    }

    static final int FORMAT = 1;
    private static final Gson GSON = new Gson();

    private final RunConfig<?> cfg;
    private final Path out;
    private final CheckpointStore checkpoints;
    private final Trainer<M> trainer;
    private final World world;
    private long step;
    private double wallBefore; // seconds spent in earlier sessions of this run
    private long outputsAt = -1; // the step whose outputs are on disk

    /** The loop of {@code trainer}, whose configuration is {@code cfg} (the loop only reads it). */
    public TrainingLoop(RunConfig<?> cfg, Trainer<M> trainer) {
        this(cfg, trainer, World.SINGLE);
    }

    /**
     * The loop of one rank of {@code world}: every rank takes the same steps and stops at the same
     * one (the stop request is agreed on at every step); rank 0 alone writes metrics.jsonl,
     * checkpoints and outputs.
     */
    public TrainingLoop(RunConfig<?> cfg, Trainer<M> trainer, World world) {
        this.cfg = cfg;
        this.trainer = trainer;
        this.world = world;
        this.out = Path.of(cfg.out);
        this.checkpoints = RunFolder.checkpoints(out);
    }

    /**
     * Trains up to {@code cfg.steps} steps, logging every {@code logEvery} (and the first and
     * last) and checkpointing every {@code ckptEvery} (and the last). When {@code stop} becomes
     * true the loop writes a checkpoint and returns (resume continues from there).
     */
    public Result run(TrainingListener<M> listener, AtomicBoolean stop) {
        trainer.setModes();
        long session = System.nanoTime();
        long lastLogTime = session, lastLogStep = step;
        try (MetricsLog metrics = world.isMain() ? MetricsLog.open(out.resolve("metrics.jsonl"), step) : null) {
            while (step < cfg.steps) {
                if (world.any(stop.get())) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    checkpoint(listener);
                    return new Result(step, false, true, trainer.skipped(), wallBefore, out);
                }
                step++;
                boolean logging = step == 1 || step % cfg.logEvery == 0 || step == cfg.steps;
                M m = trainer.step(step, logging, listener);
                if (logging) {
                    long now = System.nanoTime();
                    double rate = (step - lastLogStep) / Math.max(1e-9, (now - lastLogTime) / 1e9);
                    m = m.timed(trainer.skipped(), rate, wallBefore + (now - session) / 1e9);
                    lastLogTime = now;
                    lastLogStep = step;
                    if (metrics != null) metrics.write(m.toMap());
                    listener.onStep(m);
                }
                listener.onProgress(step, trainer.lastLoss());
                if (step % cfg.ckptEvery == 0 || step == cfg.steps) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    session = System.nanoTime();
                    checkpoint(listener);
                }
            }
        }
        if (outputsAt != step && world.isMain()) trainer.writeOutputs();
        return new Result(step, true, false, trainer.skipped(), wallBefore, out);
    }

    /** One step exactly as {@link #run} takes it, without logging or checkpoints: the hook of the step benchmarks. */
    public void benchmarkStep() {
        trainer.setModes();
        step++;
        trainer.step(step, false, TrainingListener.none());
    }

    /**
     * Writes the complete training state as the checkpoint of the current step (atomically), then
     * the outputs. Collective: every rank gives its parts (its RNG states), rank 0 writes; returns
     * the checkpoint's file on rank 0, null on the others.
     */
    public Path checkpoint(TrainingListener<M> listener) {
        Map<String, byte[]> own = trainer.parts(); // first: it may refuse (e.g. non-finite parameters)
        if (!world.isMain()) {
            outputsAt = step;
            return null;
        }
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("format", FORMAT);
        state.put("step", step);
        state.put("skipped", trainer.skipped());
        state.put("wall_seconds", wallBefore);
        state.putAll(trainer.state());
        Map<String, byte[]> parts = new LinkedHashMap<>();
        parts.put("state.json", GSON.toJson(state).getBytes(StandardCharsets.UTF_8));
        parts.put("config.json", cfg.toJson().getBytes(StandardCharsets.UTF_8));
        parts.putAll(own);
        Path file = checkpoints.write(step, parts, cfg.keepCheckpoints);
        trainer.writeOutputs();
        outputsAt = step;
        listener.onCheckpoint(step, file);
        return file;
    }

    // ---- resuming ----------------------------------------------------------------------------

    /** The newest readable checkpoint in {@code out} holding state.json, config.json and {@code parts}; empty if none. */
    public static Optional<CheckpointStore.Checkpoint> latest(Path out, Consumer<String> warn, String... parts) {
        String[] required = new String[parts.length + 2];
        required[0] = "state.json";
        required[1] = "config.json";
        System.arraycopy(parts, 0, required, 2, parts.length);
        return RunFolder.checkpoints(out).latest(warn, required);
    }

    /** A checkpoint's state.json, its format checked. */
    public static JsonObject state(CheckpointStore.Checkpoint c) {
        JsonObject state = JsonParser.parseString(RunFolder.text(c.part("state.json"))).getAsJsonObject();
        if (!state.has("format") || state.get("format").getAsInt() != FORMAT)
            throw new InvalidInputException(c.file() + " has an unknown checkpoint format");
        return state;
    }

    /** Continues from checkpoint {@code c} (whose state.json is {@code state}): its step and wall time. */
    public void restore(CheckpointStore.Checkpoint c, JsonObject state, Consumer<String> report) {
        step = c.step();
        wallBefore = state.get("wall_seconds").getAsDouble();
        String from = "resuming from " + out.toAbsolutePath().relativize(c.file().toAbsolutePath()) + " at step " + step;
        if (step >= cfg.steps)
            report.accept(from + ": the run is already at --steps " + cfg.steps + " or beyond, nothing is left to train"
                    + " (give a larger --steps to continue it)");
        else report.accept(from + " of " + cfg.steps);
    }

    public long step() {
        return step;
    }

    public CheckpointStore checkpoints() {
        return checkpoints;
    }
}
