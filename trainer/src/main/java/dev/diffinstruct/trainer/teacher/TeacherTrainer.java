package dev.diffinstruct.trainer.teacher;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Adam;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.RunFolder;
import dev.diffinstruct.trainer.data.BatchSampler;
import dev.diffinstruct.trainer.data.ImageDataset;
import dev.diffinstruct.trainer.diffusion.SigmaSampler;
import dev.diffinstruct.trainer.diffusion.Teachers;
import dev.diffinstruct.trainer.distill.CheckpointStore;
import dev.diffinstruct.trainer.distill.DenoisingScoreMatchingLoss;
import dev.diffinstruct.trainer.distill.MetricsLog;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Trains a diffusion model (the teacher that {@code distill} later distils) on images: EDM's
 * denoising score matching (Karras et al., 2022) of a TorchScript denoiser
 * {@code D(x, sigma[, class_labels])}, with the same loss code as Diff-Instruct's fake score
 * ({@link DenoisingScoreMatchingLoss}).
 *
 * <p>Each step ({@link #trainStep}) draws a minibatch (optionally flipped), noise levels
 * {@code ln sigma ~ N(pMean, pStd^2)} and noise, takes one Adam step on
 * {@code lambda(sigma) |D(x + sigma n, sigma) - x|^2} (learning rate warmed up linearly, the
 * gradient optionally clipped, a non-finite one skipped) and updates the EMA of the weights with
 * EDM's half-life in images (ramped up with the images seen). All randomness comes from two seeded
 * {@link Generator}s (batches; sigma/noise/flips) plus libtorch's default generator (dropout), all
 * checkpointed with the batch sampler's position, so a run resumed from a checkpoint continues
 * bit-exactly on CPU.
 *
 * <p>Every checkpoint and the end of the run write {@code teacher.pt} (the EMA weights) and
 * {@code teacher_raw.pt} (the last weights), both in eval mode and wrapped so that they carry
 * {@code data_shape}, {@code sigma_data} and {@code label_dim} attributes, plus {@code config.json}
 * (its {@code steps} and {@code metrics.jsonl} tell how far the run got); every logged step goes to
 * {@code metrics.jsonl}.
 */
public final class TeacherTrainer implements AutoCloseable {

    /** How a call to {@link #run} ended. */
    public record Result(long step, boolean complete, boolean stopped, long skippedSteps, double wallSeconds, Path out) {}

    /**
     * One logged step; {@code loss} is the mean loss of the steps since the previous logged step
     * (per image, summed over pixels, as the fake score's loss), {@code gradNorm} the last step's
     * gradient norm before clipping.
     */
    public record Metrics(long step, double loss, double gradNorm, double lr, double emaHalflifeImages, long epoch,
                          long skippedSteps, double stepsPerSecond, double wallSeconds) {
        /** As written to metrics.jsonl (non-finite fields left out, so every line is strict JSON). */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", step);
            put(m, "loss", loss);
            put(m, "grad_norm", gradNorm);
            put(m, "lr", lr);
            put(m, "ema_halflife", emaHalflifeImages);
            m.put("epoch", epoch);
            m.put("skipped", skippedSteps);
            put(m, "steps_per_s", stepsPerSecond);
            put(m, "wall_s", wallSeconds);
            return m;
        }

        private static void put(Map<String, Object> m, String k, double v) {
            if (Double.isFinite(v)) m.put(k, v);
        }
    }

    /** What the loop reports as it goes (called on the training thread). */
    public interface Listener {
        /** After each logged step (every --log-every steps, the first and the last). */
        default void onStep(Metrics m) {}

        /** After every step, with that step's loss: for progress displays and tests. */
        default void onProgress(long step, double loss) {}

        /** After a checkpoint has been written (atomically) to {@code file}. */
        default void onCheckpoint(long step, Path file) {}

        /** A notice worth a line of output: a skipped step, a resumed run, a changed option. */
        default void onMessage(String line) {}

        Listener NONE = new Listener() {};
    }

    private static final Gson GSON = new Gson();
    private static final int FORMAT = 1;
    /** Options a resumed run may change; every other option is the checkpoint's. */
    private static final Set<String> RESUMABLE = Set.of("steps", "logEvery", "ckptEvery", "keepCheckpoints", "out");
    private static final long STREAM_DATA = 0x6461746100000001L, STREAM_NOISE = 0x6e6f697365000002L;

    private final TeacherConfig cfg;
    private final Path out;
    private final Device device;
    private final ImageDataset data;
    private final long[] dataShape;
    private final ScriptModule model, ema;
    private final Adam opt;
    private final Generator dataRng, rng;
    private final BatchSampler batches;
    private final SigmaSampler sigmas;
    private final DenoisingScoreMatchingLoss dsm;
    private final CheckpointStore checkpoints;

    private long step;
    private long skipped, skippedInARow;
    private double wallBefore;         // seconds spent in earlier sessions of this run
    private double lossSum;            // losses of the steps since the last logged step
    private long lossCount;

    private TeacherTrainer(TeacherConfig cfg, Device device, ImageDataset data, ScriptModule model, ScriptModule ema) {
        this.cfg = cfg;
        this.out = Path.of(cfg.out);
        this.device = device;
        this.data = data;
        this.dataShape = data.imageShape();
        this.model = model;
        this.ema = ema;
        this.dataRng = new Generator(cfg.seed ^ STREAM_DATA); // on the CPU: the batch order is device-independent
        this.rng = new Generator(cfg.seed ^ STREAM_NOISE, device);
        this.batches = new BatchSampler(data, cfg.batch, dataRng);
        this.sigmas = new SigmaSampler.LogNormal(cfg.pMean, cfg.pStd);
        this.dsm = new DenoisingScoreMatchingLoss(cfg.sigmaData);
        this.checkpoints = RunFolder.checkpoints(out);
        try (Scope s = Scope.open()) {
            this.opt = new Adam(model.parameters(), Adam.Options.lr(cfg.lrAt(1)).betas(cfg.beta1, cfg.beta2));
        }
        ema.requiresGrad(false);
    }

    // ---- starting and resuming -------------------------------------------------------------------

    /**
     * Starts a fresh run in {@code cfg.out}: loads the dataset and the model, checks that they fit
     * together, and refuses an output folder that already holds a run's checkpoints.
     */
    public static TeacherTrainer start(TeacherConfig config) {
        TeacherConfig cfg = config.copy().validate();
        Path out = RunFolder.prepare(cfg.out);
        RunFolder.requireNoRun(out, cfg.out);
        Device device = DeviceOption.parse(cfg.device);
        cfg.device = device.toString(); // config.json and the checkpoints name the concrete device (RNG states are per device)
        ScriptModule model = loadModel(cfg.model, device), ema = null; // first: it is quick to read, the data may not be
        ImageDataset data;
        try {
            data = loadData(cfg, device);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        try {
            check(model, cfg, data);
            model.requiresGrad(true);
            Torch.manualSeed(cfg.seed);
            ema = model.trainableCopy();
            TeacherTrainer t = new TeacherTrainer(cfg, device, data, model, ema);
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
    public static Optional<TeacherTrainer> resume(TeacherConfig requested, Listener listener) {
        Path out = RunFolder.prepare(requested.out);
        Optional<CheckpointStore.Checkpoint> found = RunFolder.checkpoints(out).latest(listener::onMessage,
                "config.json", "state.json", "model.pt", "model_ema.pt", "adam.bin", "rng.bin", "data_rng.bin", "batches.bin", "torch_rng.bin");
        if (found.isEmpty()) return Optional.empty();
        return Optional.of(CheckpointStore.resumeFrom(found.get(), c -> resume(c, requested, listener)));
    }

    private static TeacherTrainer resume(CheckpointStore.Checkpoint c, TeacherConfig requested, Listener listener) {
        Path out = Path.of(requested.out);
        TeacherConfig saved = TeacherConfig.fromJson(RunFolder.text(c.part("config.json")));
        RunFolder.reportKeptOptions(saved.differences(requested), RESUMABLE, requested.given, listener::onMessage);
        TeacherConfig cfg = saved.copy();
        cfg.steps = requested.steps;
        cfg.logEvery = requested.logEvery;
        cfg.ckptEvery = requested.ckptEvery;
        cfg.keepCheckpoints = requested.keepCheckpoints;
        cfg.out = requested.out;
        cfg.validate();
        JsonObject state = JsonParser.parseString(RunFolder.text(c.part("state.json"))).getAsJsonObject();
        if (state.get("format").getAsInt() != FORMAT) throw new InvalidInputException(c.file() + " has an unknown checkpoint format");
        Device device = DeviceOption.parse(cfg.device);
        ImageDataset data = loadData(cfg, device);
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
            TeacherTrainer t = new TeacherTrainer(cfg, device, data, model, ema);
            try {
                t.opt.loadState(c.part("adam.bin"));
                t.rng.setState(c.part("rng.bin"));
                t.dataRng.setState(c.part("data_rng.bin"));
                try {
                    t.batches.restoreState(c.part("batches.bin"));
                } catch (IllegalArgumentException e) {
                    throw new InvalidInputException(c.file() + ": cannot continue on --data " + cfg.data + ": " + e.getMessage(), e);
                }
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
            Torch.setRngState(c.part("torch_rng.bin"));
            t.step = c.step();
            t.skipped = state.get("skipped").getAsLong();
            t.skippedInARow = state.get("skipped_in_a_row").getAsLong();
            t.wallBefore = state.get("wall_seconds").getAsDouble();
            t.lossSum = state.get("loss_sum").getAsDouble();
            t.lossCount = state.get("loss_count").getAsLong();
            t.writeConfig();
            listener.onMessage("resuming from " + out.toAbsolutePath().relativize(c.file().toAbsolutePath()) + " at step " + c.step() + " of " + cfg.steps);
            return t;
        } catch (RuntimeException e) {
            if (model != null && !model.isClosed()) model.close();
            if (ema != null && !ema.isClosed()) ema.close();
            if (!data.images().isClosed()) data.close();
            throw e;
        }
    }

    /** The CLI's entry: resumes when {@code resume} is set and there is a checkpoint, else starts fresh. */
    public static TeacherTrainer open(TeacherConfig cfg, boolean resume, Listener listener) {
        cfg.validate();
        if (resume) {
            Optional<TeacherTrainer> r = resume(cfg, listener);
            if (r.isPresent()) return r.get();
            listener.onMessage("no checkpoint in " + Path.of(cfg.out).resolve("checkpoints") + ": starting a fresh run");
        }
        return start(cfg);
    }

    private static ImageDataset loadData(TeacherConfig cfg, Device device) {
        ImageDataset d = ImageDataset.load(cfg.data);
        try {
            if (d.size() < cfg.batch)
                throw new InvalidInputException("--batch " + cfg.batch + " is larger than --data " + cfg.data + " (" + d.size() + " images)");
            if (cfg.classes > 0) {
                if (!d.hasLabels())
                    throw new InvalidInputException("--classes " + cfg.classes + " needs labelled data, but --data " + cfg.data
                            + " has no labels (a PNG folder is labelled by its sub-folders)");
                if (d.numClasses() != cfg.classes)
                    throw new InvalidInputException("--classes " + cfg.classes + " but --data " + cfg.data + " has " + d.numClasses() + " classes");
            }
            if (device.equals(Device.CPU)) return d;
            try (d) {
                return d.to(device);
            }
        } catch (RuntimeException e) {
            if (!d.images().isClosed()) d.close();
            throw e;
        }
    }

    private static ScriptModule loadModel(String file, Device device) {
        try {
            return ScriptModule.load(Path.of(file), device);
        } catch (ModelFileException e) {
            throw new InvalidInputException("--model " + e.getMessage().replaceFirst("^Module.load: ", ""), e);
        }
    }

    /**
     * Runs the model once on two training images at sigma 0.5 and 2 (with labels when
     * conditional): it must take them, return their shape, finite, and have parameters to train.
     */
    static void check(ScriptModule model, TeacherConfig cfg, ImageDataset data) {
        String name = "--model " + cfg.model;
        String schema = model.methods().stream().filter(m -> m.startsWith("forward(")).findFirst().orElse(null);
        if (schema == null) throw new InvalidInputException(name + " has no forward method");
        int args = schema.substring(0, schema.indexOf(')') + 1).split(",").length - 1; // minus self
        int want = cfg.classes > 0 ? 3 : 2;
        String expected = cfg.classes > 0 ? "a class-conditional denoiser takes (x, sigma, class_labels)" : "a denoiser takes (x, sigma)";
        if (args < want)
            throw new InvalidInputException(name + ": its forward takes " + args + " argument" + (args == 1 ? "" : "s") + " but " + expected
                    + (args == 2 ? " (an unconditional model: leave out --classes)" : "") + "; " + schema);
        String hint = args > want ? " (its forward takes " + args + " arguments, " + expected
                + (want == 2 && args == 3 ? "; a class-conditional model? pass --classes K" : "") + ")" : "";
        try (Scope s = Scope.open(); var ng = Torch.noGrad()) {
            Tensor x = data.images().slice(0, 2);
            Tensor sigma = Tensor.of(new float[] {0.5f, 2f}).to(x.device());
            Tensor y;
            try {
                y = cfg.classes > 0 ? model.forward(x, sigma, oneHot(data.labels().slice(0, 2), cfg.classes)) : model.forward(x, sigma);
            } catch (TorchException e) {
                throw new InvalidInputException(name + " cannot denoise images of shape " + Arrays.toString(data.imageShape())
                        + " from --data " + cfg.data + (cfg.classes > 0 ? " with " + cfg.classes + " classes" : "") + hint + ": " + Teachers.reason(e), e);
            }
            if (!Arrays.equals(y.shape(), x.shape()))
                throw new InvalidInputException(name + " returns shape " + Arrays.toString(y.shape()) + " for images " + Arrays.toString(x.shape())
                        + "; a denoiser D(x, sigma) returns x's shape");
            if (!y.allFinite()) throw new InvalidInputException(name + " returns NaN or Inf on training images");
        }
        if (model.parameterCount() == 0) throw new InvalidInputException(name + " has no parameters to train");
    }

    private static Tensor oneHot(Tensor labels, int classes) {
        return labels.oneHot(classes).to(DType.FLOAT32);
    }

    // ---- the loop --------------------------------------------------------------------------------

    /**
     * Trains up to {@code cfg.steps} steps, logging every {@code logEvery} and checkpointing every
     * {@code ckptEvery}. When {@code stop} becomes true the loop writes a checkpoint and returns
     * (resume continues from there). A completed run writes the outputs (see the class comment).
     */
    public Result run(Listener listener, AtomicBoolean stop) {
        model.train(true);
        ema.train(false);
        long session = System.nanoTime();
        long lastLogTime = session, lastLogStep = step;
        try (MetricsLog metrics = MetricsLog.open(out.resolve("metrics.jsonl"), step)) {
            while (step < cfg.steps) {
                if (stop.get()) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    session = System.nanoTime();
                    checkpoint(listener);
                    return new Result(step, false, true, skipped, wallBefore, out);
                }
                step++;
                double[] lossAndNorm = trainStep(listener);
                if (Double.isFinite(lossAndNorm[0])) {
                    lossSum += lossAndNorm[0];
                    lossCount++;
                }
                if (step == 1 || step % cfg.logEvery == 0 || step == cfg.steps) {
                    long now = System.nanoTime();
                    double rate = (step - lastLogStep) / Math.max(1e-9, (now - lastLogTime) / 1e9);
                    Metrics m = new Metrics(step, lossCount > 0 ? lossSum / lossCount : Double.NaN, lossAndNorm[1], cfg.lrAt(step),
                            emaHalflife(step * (long) cfg.batch), batches.epoch(), skipped, rate, wallBefore + (now - session) / 1e9);
                    lastLogTime = now;
                    lastLogStep = step;
                    lossSum = 0;
                    lossCount = 0;
                    metrics.write(m.toMap());
                    listener.onStep(m);
                }
                listener.onProgress(step, lossAndNorm[0]);
                if (step % cfg.ckptEvery == 0 || step == cfg.steps) {
                    wallBefore += (System.nanoTime() - session) / 1e9;
                    session = System.nanoTime();
                    checkpoint(listener);
                }
            }
        }
        writeOutputs();
        return new Result(step, true, false, skipped, wallBefore, out);
    }

    /**
     * One step: a minibatch, noise levels and noise, one Adam step on the denoising score matching
     * loss, the EMA update. Everything it allocates lives in one {@link Scope}. Returns {loss,
     * gradient norm before clipping} (NaN loss when the step was skipped).
     */
    double[] trainStep(Listener listener) {
        try (Scope scope = Scope.open()) {
            BatchSampler.Batch b = batches.next();
            Tensor x = b.images();
            long n = x.size(0);
            if (cfg.hflip) { // each image mirrored left-right with probability 1/2 (exact: the blend weights are 0 or 1)
                Tensor m = Tensor.rand(rng, DType.FLOAT32, device, n, 1, 1, 1).lt(0.5).to(DType.FLOAT32);
                Tensor reversed = Tensor.arange(x.size(3) - 1, -1, -1, DType.INT64, device);
                x = x.mul(m.rsub(1.0)).add(x.indexSelect(3, reversed).mul(m));
            }
            Tensor labels = cfg.classes > 0 ? oneHot(b.labels(), cfg.classes) : null;
            Tensor sigma = sigmas.sample(rng, n);
            Tensor eps = Tensor.randn(rng, DType.FLOAT32, device, x.shape());

            Tensor loss = dsm.loss(model, x, sigma, eps, labels);
            opt.zeroGrad();
            loss.backward();
            double lossValue = loss.item();
            double norm = Tensor.clipGradNorm(model.parameters(), cfg.gradClip > 0 ? cfg.gradClip : Double.POSITIVE_INFINITY);
            if (!Double.isFinite(lossValue) || !Double.isFinite(norm)) {
                opt.zeroGrad();
                skipped++;
                skippedInARow++;
                listener.onMessage(String.format(Locale.ROOT, "step %d: non-finite %s (loss %s, gradient norm %s); update skipped (%d so far)",
                        step, Double.isFinite(lossValue) ? "gradient" : "loss", lossValue, norm, skipped));
                if (skippedInARow >= cfg.maxSkippedInARow)
                    throw new IllegalStateException("training diverged: " + skippedInARow + " non-finite steps in a row (at step " + step
                            + "); lower --lr or set --grad-clip, and resume from the last checkpoint");
                lossValue = Double.NaN;
            } else {
                skippedInARow = 0;
                opt.setLr(cfg.lrAt(step));
                opt.step();
            }

            // EMA of the weights (EDM): ema = beta ema + (1 - beta) w
            double beta = cfg.emaBeta(step * (long) cfg.batch);
            try (var noGrad = Torch.noGrad()) {
                List<Tensor> avg = ema.parameters(), cur = model.parameters();
                for (int i = 0; i < avg.size(); i++) {
                    if (beta == 0) avg.get(i).copyFrom(cur.get(i));
                    else avg.get(i).mulInPlace(beta).addScaledInPlace(cur.get(i), 1 - beta);
                }
            }
            return new double[] {lossValue, norm};
        }
    }

    private double emaHalflife(long imagesSeen) {
        return cfg.emaRampup > 0 ? Math.min(cfg.emaHalflife, imagesSeen * cfg.emaRampup) : cfg.emaHalflife;
    }

    // ---- checkpoints and outputs -----------------------------------------------------------------

    /** Writes the complete training state as the checkpoint of the current step (atomically). */
    public Path checkpoint(Listener listener) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("format", FORMAT);
        state.put("step", step);
        state.put("skipped", skipped);
        state.put("skipped_in_a_row", skippedInARow);
        state.put("wall_seconds", wallBefore);
        state.put("loss_sum", lossSum);
        state.put("loss_count", lossCount);
        state.put("data_shape", dataShape);
        state.put("data_size", data.size());
        state.put("data_checksum", checksum(data));
        Map<String, byte[]> parts = new LinkedHashMap<>();
        parts.put("state.json", GSON.toJson(state).getBytes(StandardCharsets.UTF_8));
        parts.put("config.json", cfg.toJson().getBytes(StandardCharsets.UTF_8));
        parts.put("model.pt", model.toBytes());
        parts.put("model_ema.pt", ema.toBytes());
        parts.put("adam.bin", opt.saveState());
        parts.put("rng.bin", rng.state());
        parts.put("data_rng.bin", dataRng.state());
        parts.put("batches.bin", batches.saveState());
        parts.put("torch_rng.bin", Torch.rngState());
        Path file = checkpoints.write(step, parts, cfg.keepCheckpoints);
        writeOutputs(); // so that a long run always offers its latest teacher
        listener.onCheckpoint(step, file);
        return file;
    }

    private static double checksum(ImageDataset d) {
        try (Scope s = Scope.open()) {
            return d.images().to(DType.FLOAT64).sum().item();
        }
    }

    /** teacher.pt (EMA) and teacher_raw.pt (last weights), wrapped; config.json. */
    private void writeOutputs() {
        saveWrapped(ema, out.resolve("teacher.pt"));
        saveWrapped(model, out.resolve("teacher_raw.pt"));
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
        RunFolder.writeConfig(out, cfg.toJson());
    }

    // ---- access ----------------------------------------------------------------------------------

    public long step() {
        return step;
    }

    public TeacherConfig config() {
        return cfg;
    }

    public ScriptModule model() {
        return model;
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

    CheckpointStore checkpoints() {
        return checkpoints;
    }

    @Override
    public void close() {
        opt.close();
        rng.close();
        dataRng.close();
        batches.close();
        model.close();
        ema.close();
        data.close();
    }
}
