package dev.diffinstruct.trainer.teacher;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.Resume;
import dev.diffinstruct.trainer.run.RunFolder;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import dev.diffinstruct.trainer.run.World;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A teacher-training run ({@code train-teacher}) in {@code --out}: the dataset, the TorchScript
 * denoiser {@code D(x, sigma[, class_labels])} and its EMA, the {@link TeacherStep} (EDM's denoising
 * score matching, the same loss code as Diff-Instruct's fake score) and the {@link TrainingLoop}
 * that takes it. Every random stream and the batch sampler's position are checkpointed, so a
 * resumed run continues bit-exactly on CPU.
 *
 * <p>Every checkpoint and the end of the run write {@code teacher.pt} (the EMA weights) and
 * {@code teacher_raw.pt} (the last weights), both in eval mode and wrapped so that they carry
 * {@code data_shape}, {@code sigma_data} and {@code label_dim} attributes, plus {@code config.json}
 * (its {@code steps} and {@code metrics.jsonl} tell how far the run got); every logged step goes to
 * {@code metrics.jsonl}.
 */
public final class TeacherRun implements TrainingLoop.Trainer<TeacherMetrics>, AutoCloseable {
    private static final Gson GSON = new Gson();
    private static final String[] PARTS = {"model.pt", "model_ema.pt", "adam.bin", "rng.bin", "data_rng.bin", "batches.bin", "torch_rng.bin"};

    private final TeacherConfig cfg;
    private final Path out;
    private final ImageDataset data;
    private final long[] dataShape;
    private final Denoiser model;
    private final ScriptModule ema;
    private final TeacherStep step;
    private final TrainingLoop<TeacherMetrics> loop;
    private final World world;
    private final Device device;

    private TeacherRun(TeacherConfig cfg, Device device, ImageDataset data, ScriptModule model, ScriptModule ema, World world) {
        this.cfg = cfg;
        this.device = device;
        this.world = world;
        this.out = Path.of(cfg.out);
        Torch.setCudnnBenchmark(cfg.cudnnBenchmark); // process-wide: set both ways
        this.data = data;
        this.dataShape = data.imageShape();
        this.model = new Denoiser(model, cfg.classes);
        this.ema = ema;
        this.step = new TeacherStep(cfg, device, data, this.model, ema, world);
        this.loop = new TrainingLoop<>(cfg, this, world); // it calls back only from run() and checkpoint(), once this is built
        ema.requiresGrad(false);
    }

    // ---- starting and resuming -------------------------------------------------------------------

    /**
     * Starts a fresh run in {@code cfg.out}: loads the dataset and the model, checks that they fit
     * together, and refuses an output folder that already holds a run's checkpoints.
     */
    public static TeacherRun start(TeacherConfig config) {
        return start(config, World.SINGLE);
    }

    /** Rank {@code world.rank()} of a fresh data-parallel run: each rank trains on its share of every batch. */
    public static TeacherRun start(TeacherConfig config, World world) {
        TeacherConfig cfg = config.copy().validate();
        if (cfg.batch % world.size() != 0)
            throw new InvalidInputException("--batch " + cfg.batch + " is the global batch: it must divide among the " + world.size() + " processes");
        Path out = world.isMain() ? RunFolder.prepare(cfg.out) : Path.of(cfg.out);
        RunFolder.requireNoRun(out, cfg.out);
        Device device = DeviceOption.parse(cfg.device);
        cfg.device = device.toString(); // config.json and the checkpoints name the concrete device (RNG states are per device)
        ScriptModule model = TeacherInputs.loadModel(cfg.model, device), ema = null; // first: it is quick to read, the data may not be
        ImageDataset data;
        try {
            data = TeacherInputs.loadData(cfg, device);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        try {
            TeacherInputs.check(model, cfg, data);
            model.requiresGrad(true);
            world.barrier(); // every rank has checked the folder before rank 0 writes into it
            world.broadcastFromMain(model);
            Torch.manualSeed(cfg.seed + world.rank()); // dropout: rank 0 draws what a single process would
            ema = model.trainableCopy();
            TeacherRun t = new TeacherRun(cfg, device, data, model, ema, world);
            t.writeConfig();
            return t;
        } catch (RuntimeException e) {
            model.close();
            if (ema != null) ema.close();
            data.close();
            throw e;
        }
    }

    /**
     * Continues the run in {@code requested.out} from its newest readable checkpoint, with the
     * checkpoint's configuration except for the options a resumed run may change ({@code steps},
     * {@code logEvery}, {@code ckptEvery}, {@code keepCheckpoints}); other differences are
     * reported. Empty if there is no checkpoint.
     */
    public static Optional<TeacherRun> resume(TeacherConfig requested, TrainingListener<TeacherMetrics> listener) {
        return resume(requested, listener, World.SINGLE);
    }

    /** Rank {@code world.rank()}'s resume: every rank reads the same checkpoint (--out on a file system all ranks see). */
    public static Optional<TeacherRun> resume(TeacherConfig requested, TrainingListener<TeacherMetrics> listener, World world) {
        Path out = world.isMain() ? RunFolder.prepare(requested.out) : Path.of(requested.out);
        Optional<CheckpointStore.Checkpoint> found = TrainingLoop.latest(out, listener::onMessage, PARTS);
        return found.map(c -> CheckpointStore.resumeFrom(c, ck -> resume(ck, requested, listener, world)));
    }

    private static TeacherRun resume(CheckpointStore.Checkpoint c, TeacherConfig requested, TrainingListener<TeacherMetrics> listener,
                                     World world) {
        TeacherConfig saved = TeacherConfig.fromJson(RunFolder.text(c.part("config.json")));
        TeacherConfig cfg = saved.resumedAs(requested, requested.gave("cudnnBenchmark") ? Set.of("cudnnBenchmark") : Set.of(), listener::onMessage);
        cfg.validate();
        JsonObject state = TrainingLoop.state(c);
        Device device = DeviceOption.parse(cfg.device);
        ImageDataset data = TeacherInputs.loadData(cfg, device);
        ScriptModule model = null, ema = null;
        try {
            long[] shape = GSON.fromJson(state.get("data_shape"), long[].class);
            if (!Arrays.equals(shape, data.imageShape()))
                throw new InvalidInputException("--data " + cfg.data + " now has images " + Arrays.toString(data.imageShape())
                        + " but the checkpoint was trained on " + Arrays.toString(shape));
            if (state.has("data_checksum") && state.get("data_checksum").getAsDouble() != checksum(data))
                listener.onMessage("resuming: the images of --data " + cfg.data + " differ from the checkpoint's; continuing on the new ones");
            model = ScriptModule.load(c.part("model.pt"), device).requiresGrad(true);
            ema = ScriptModule.load(c.part("model_ema.pt"), device);
            TeacherRun t = new TeacherRun(cfg, device, data, model, ema, world);
            TeacherStep s = t.step;
            Optional<World.RandomStates> own;
            try {
                s.opt.loadState(c.part("adam.bin"));
                own = world.randomStates(c, state, listener::onMessage, t.device);
                if (own.isPresent()) s.rng.setState(own.get().noise());
                s.dataRng.setState(c.part("data_rng.bin"));
                try {
                    s.batches.restoreState(c.part("batches.bin"));
                } catch (IllegalArgumentException e) {
                    throw new InvalidInputException(c.file() + ": cannot continue on --data " + cfg.data + ": " + e.getMessage(), e);
                }
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
            if (own.isPresent()) own.get().restoreDropout(t.device);
            else Torch.manualSeed(cfg.seed + world.rank() + 7919 * c.step()); // a rank the run did not have
            s.skipped = state.get("skipped").getAsLong();
            s.skippedInARow = state.get("skipped_in_a_row").getAsLong();
            s.lossSum = state.get("loss_sum").getAsDouble();
            s.lossCount = state.get("loss_count").getAsLong();
            t.writeConfig();
            t.loop.restore(c, state, listener::onMessage);
            return t;
        } catch (RuntimeException e) {
            if (model != null && !model.isClosed()) model.close();
            if (ema != null && !ema.isClosed()) ema.close();
            if (!data.images().isClosed()) data.close();
            throw e;
        }
    }

    /** The CLI's entry: resumes when {@code resume} is set and there is a checkpoint, else starts fresh. */
    public static TeacherRun open(TeacherConfig cfg, boolean resume, TrainingListener<TeacherMetrics> listener) {
        return open(cfg, resume ? Resume.IF_ANY : Resume.NO, listener);
    }

    /** The CLI's entry: resumes as {@code resume} says ({@link Resume}), else starts a fresh run. */
    public static TeacherRun open(TeacherConfig cfg, Resume resume, TrainingListener<TeacherMetrics> listener) {
        return open(cfg, resume, listener, World.SINGLE);
    }

    /** The CLI's entry for rank {@code world.rank()} of a data-parallel run. */
    public static TeacherRun open(TeacherConfig cfg, Resume resume, TrainingListener<TeacherMetrics> listener, World world) {
        resume.requireCheckpointsIn(cfg.out);
        cfg.validate();
        if (resume != Resume.NO) {
            Optional<TeacherRun> r = resume(cfg, listener, world);
            if (r.isPresent()) return r.get();
            resume.noReadableCheckpoint(cfg.out, listener::onMessage);
        }
        return start(cfg, world);
    }

    // ---- the loop's side -------------------------------------------------------------------------

    /** Trains to {@code cfg.steps} or to a stop request (which writes a checkpoint first): {@link TrainingLoop#run}. */
    public TrainingLoop.Result run(TrainingListener<TeacherMetrics> listener, AtomicBoolean stop) {
        return loop.run(listener, stop);
    }

    @Override
    public void setModes() {
        model.module().train(true);
        ema.train(false);
    }

    @Override
    public TeacherMetrics step(long n, boolean logging, TrainingListener<TeacherMetrics> listener) {
        return step.step(n, logging, listener);
    }

    @Override
    public double lastLoss() {
        return step.lastLoss();
    }

    @Override
    public long skipped() {
        return step.skipped;
    }

    @Override
    public Map<String, Object> state() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("skipped_in_a_row", step.skippedInARow);
        state.put("loss_sum", step.lossSum);
        state.put("loss_count", step.lossCount);
        state.put("data_shape", dataShape);
        state.put("data_size", data.size());
        state.put("data_checksum", checksum(data));
        world.describe(state);
        return state;
    }

    @Override
    public Map<String, byte[]> parts() {
        // every rank's noise and dropout states (a collective); the rest is the same on all ranks
        Map<String, byte[]> random = world.randomStateParts(step.rng.state(), device);
        if (!world.isMain()) return random;
        Map<String, byte[]> parts = new LinkedHashMap<>();
        parts.put("model.pt", model.module().toBytes());
        parts.put("model_ema.pt", ema.toBytes());
        parts.put("adam.bin", step.opt.saveState());
        parts.put("rng.bin", random.get("rng.bin"));
        parts.put("data_rng.bin", step.dataRng.state());
        parts.put("batches.bin", step.batches.saveState());
        parts.putAll(random); // torch_rng.bin, then the other ranks' states
        return parts;
    }

    /** Writes the complete training state as the checkpoint of the current step (atomically), and the outputs. */
    public Path checkpoint(TrainingListener<TeacherMetrics> listener) {
        return loop.checkpoint(listener);
    }

    // ---- outputs ---------------------------------------------------------------------------------

    private static double checksum(ImageDataset d) {
        try (Scope s = Scope.open()) {
            return d.images().to(DType.FLOAT64).sum().item();
        }
    }

    /** teacher.pt (EMA) and teacher_raw.pt (last weights), wrapped; config.json. */
    @Override
    public void writeOutputs() {
        saveWrapped(ema, out.resolve("teacher.pt"));
        saveWrapped(model.module(), out.resolve("teacher_raw.pt"));
        writeConfig();
    }

    /**
     * Saves {@code net} in eval mode inside a wrapper module with the same forward and the
     * attributes {@code data_shape} (one image's [C, H, W]), {@code sigma_data} and
     * {@code label_dim}, so that {@code distill} and Python read the data shape from the file.
     */
    private void saveWrapped(ScriptModule net, Path file) {
        String labelsParam = cfg.classes > 0 ? ", class_labels: Tensor" : "";
        String labelsArg = cfg.classes > 0 ? ", class_labels" : "";
        try (ScriptModule w = ScriptModule.create("Teacher")) {
            w.registerModule("net", net);
            w.setAttribute("data_shape", dataShape);
            w.setAttribute("sigma_data", cfg.sigmaData);
            w.setAttribute("label_dim", (long) cfg.classes);
            w.define("""
                    def forward(self, x: Tensor, sigma: Tensor%s) -> Tensor:
                        return self.net.forward(x, sigma%s)
                    """.formatted(labelsParam, labelsArg));
            boolean training = net.isTraining();
            w.train(false); // the wrapper shares net: this puts net itself in eval mode
            try {
                w.save(file);
            } finally {
                net.train(training);
            }
        }
    }

    private void writeConfig() {
        if (world.isMain()) RunFolder.writeConfig(out, cfg.toJson());
    }

    // ---- access ----------------------------------------------------------------------------------

    public long step() {
        return loop.step();
    }

    public TeacherConfig config() {
        return cfg;
    }

    public ScriptModule model() {
        return model.module();
    }

    public ScriptModule emaModel() {
        return ema;
    }

    public ImageDataset data() {
        return data;
    }

    public long[] dataShape() {
        return dataShape.clone();
    }

    public CheckpointStore checkpoints() {
        return loop.checkpoints();
    }

    @Override
    public void close() {
        step.close();
        model.close();
        ema.close();
        data.close();
    }
}
