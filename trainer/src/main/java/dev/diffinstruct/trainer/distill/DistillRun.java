package dev.diffinstruct.trainer.distill;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.DeviceOption;
import dev.diffinstruct.trainer.diffusion.Denoiser;
import dev.diffinstruct.trainer.diffusion.GeneratorNet;
import dev.diffinstruct.trainer.diffusion.Shapes;
import dev.diffinstruct.trainer.diffusion.Teachers;
import dev.diffinstruct.trainer.run.CheckpointStore;
import dev.diffinstruct.trainer.run.Resume;
import dev.diffinstruct.trainer.run.RunFolder;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import dev.diffinstruct.trainer.run.World;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A distillation run in {@code --out}: its networks (teacher, generator and its EMA, fake score),
 * the {@link DiffInstruct} step, and the {@link TrainingLoop} that takes it. Starts fresh or
 * resumes bit-exactly from the newest readable checkpoint. Every checkpoint, a stop and the end
 * of the run (re)write {@code generator.pt}, {@code generator_ema.pt}, {@code fake_score.pt} and
 * {@code config.json} in the output folder.
 */
public final class DistillRun implements TrainingLoop.Trainer<StepMetrics>, AutoCloseable {
    private static final Gson GSON = new Gson();
    private static final String[] PARTS = {"generator.pt", "generator_ema.pt", "fake.pt", "adam_generator.bin", "adam_fake.bin",
            "rng.bin", "torch_rng.bin"};

    private final DistillConfig cfg;
    private final Path out;
    private final Device device;
    private final Denoiser teacher, fake;
    /** The teacher as the step calls it: a frozen copy where freezing keeps what it computes, else the teacher. */
    private final Denoiser teacherStep;
    private final GeneratorNet generator;
    /** train or eval mode for the generator (--gen-mode; a batch-norm GAN runs in eval mode: {@link UserGenerator}). */
    private final boolean generatorTrains;
    private final GeneratorNet ema;
    private final long[] latentShape, dataShape;
    private final DiffInstruct step;
    private final TrainingLoop<StepMetrics> loop;
    private final World world;

    private DistillRun(DistillConfig cfg, ScriptModule teacher, ScriptModule generator, ScriptModule ema, ScriptModule fake,
                       long[] latentShape, long[] dataShape, World world, long... streamSeeds) {
        this.cfg = cfg;
        this.world = world;
        this.out = Path.of(cfg.out);
        this.device = DeviceOption.parse(cfg.device);
        this.teacher = new Denoiser(teacher, cfg.classes);
        // The step calls a frozen copy of a teacher whose forward ignores train/eval mode (its
        // parameters, buffers and attributes become constants); the same on a fresh and a resumed
        // run, so resuming stays exact. teacher() stays the module as given.
        ScriptModule frozen = FrozenTeacher.copyIfSame(teacher, cfg, device, dataShape);
        this.teacherStep = frozen == teacher ? this.teacher : new Denoiser(frozen, cfg.classes);
        this.generator = new GeneratorNet(generator, cfg.classes);
        this.generatorTrains = UserGenerator.trains(cfg.genMode, generator);
        this.ema = new GeneratorNet(ema, cfg.classes);
        this.fake = new Denoiser(fake, cfg.classes);
        Torch.setTf32(cfg.tf32, cfg.tf32); // process-wide: set both ways, so that the run before this one does not decide
        Torch.setCudnnBenchmark(cfg.cudnnBenchmark);
        if ("bf16".equals(cfg.precision)) { // the step's three networks; the EMA copy only samples, in float32
            this.teacherStep.autocast(DType.BFLOAT16);
            this.generator.autocast(DType.BFLOAT16);
            this.fake.autocast(DType.BFLOAT16);
        }
        this.latentShape = latentShape.clone();
        this.dataShape = dataShape.clone();
        this.step = new DiffInstruct(cfg, device, teacherStep, this.generator, ema, this.fake, latentShape, dataShape, world, streamSeeds);
        this.loop = new TrainingLoop<>(cfg, this, world); // it calls back only from run() and checkpoint(), once this is built
        teacher.requiresGrad(false);
        ema.requiresGrad(false);
    }

    // ---- starting and resuming -------------------------------------------------------------------

    /**
     * Starts a fresh run in {@code cfg.out} with the given networks (taken over: closed with this
     * run). Refuses an output folder that already holds a run's checkpoints.
     */
    public static DistillRun start(DistillConfig cfg, Networks nets) {
        return start(cfg, nets, World.SINGLE);
    }

    /**
     * Starts rank {@code world.rank()} of a fresh data-parallel run: every rank builds the networks,
     * then takes rank 0's parameters, and draws its noise from its own stream.
     */
    public static DistillRun start(DistillConfig cfg, Networks nets, World world) {
        return start(cfg, nets, world, trainingStream(cfg.seed, world.rank()));
    }

    /** A start with the given noise streams (a test's single-process reference of a multi-rank run uses several). */
    static DistillRun start(DistillConfig cfg, Networks nets, World world, long... streamSeeds) {
        cfg.validate();
        Path out = world.isMain() ? RunFolder.prepare(cfg.out) : Path.of(cfg.out);
        RunFolder.requireNoRun(out, cfg.out);
        world.barrier(); // every rank has checked the folder before rank 0 writes into it
        Torch.manualSeed(world.rank() == 0 ? cfg.seed : Networks.seed(cfg.seed, STREAM_DROPOUT + 16 * world.rank()));
        world.broadcastFromMain(nets.generator());
        world.broadcastFromMain(nets.fake());
        ScriptModule ema = nets.generator().trainableCopy();
        DistillRun run = new DistillRun(cfg.copy(), nets.teacher(), nets.generator(), ema, nets.fake(),
                nets.latentShape(), nets.dataShape(), world, streamSeeds);
        run.writeConfig();
        return run;
    }

    /** Rank 0's is the single-process stream, so a run of one process is what it always was. */
    static long trainingStream(long seed, int rank) {
        return Networks.seed(seed, Networks.STREAM_TRAINING + 16 * rank);
    }

    private static final int STREAM_DROPOUT = 4;

    /**
     * Continues the run in {@code requested.out} from its newest readable checkpoint, with the
     * checkpoint's configuration except for what a resumed run may change (steps, logging and
     * checkpoint intervals, the non-finite policy, and TF32, the autotuner and learning rates given explicitly: the RNG
     * states tie a run to its device); other differences are reported. The teacher is loaded again
     * from the checkpoint's configuration. Empty if there is no checkpoint.
     */
    public static Optional<DistillRun> resume(DistillConfig requested, TrainingListener<StepMetrics> listener) {
        return resume(requested, listener, World.SINGLE);
    }

    /** Rank {@code world.rank()}'s resume: every rank reads the same checkpoint (--out on a file system all ranks see). */
    public static Optional<DistillRun> resume(DistillConfig requested, TrainingListener<StepMetrics> listener, World world) {
        requested.validate();
        Path out = world.isMain() ? RunFolder.prepare(requested.out) : Path.of(requested.out);
        Optional<CheckpointStore.Checkpoint> found = TrainingLoop.latest(out, listener::onMessage, PARTS);
        return found.map(c -> CheckpointStore.resumeFrom(c, ck -> resume(ck, requested, listener, world)));
    }

    private static DistillRun resume(CheckpointStore.Checkpoint c, DistillConfig requested, TrainingListener<StepMetrics> listener,
                                     World world) {
        DistillConfig cfg = DistillConfig.fromJson(RunFolder.text(c.part("config.json"))).resumedAs(requested, listener::onMessage);
        cfg.validate();
        Device device = DeviceOption.parse(cfg.device);
        JsonObject state = TrainingLoop.state(c);
        long[] latent = GSON.fromJson(state.get("latent_shape"), long[].class);
        long[] data = GSON.fromJson(state.get("data_shape"), long[].class);

        ScriptModule teacher = Networks.teacher(cfg, device, data);
        ScriptModule generator = null, ema = null, fake = null;
        try {
            generator = ScriptModule.load(c.part("generator.pt"), device).requiresGrad(true);
            ema = ScriptModule.load(c.part("generator_ema.pt"), device);
            fake = ScriptModule.load(c.part("fake.pt"), device).requiresGrad(true);
            DistillRun run = new DistillRun(cfg, teacher, generator, ema, fake, latent, data, world, 0);
            DiffInstruct s = run.step;
            s.optG.loadState(c.part("adam_generator.bin"));
            s.optF.loadState(c.part("adam_fake.bin"));
            s.optG.setLr(cfg.lrG); // the saved state carries the old rate; cfg's is the one to use
            s.optF.setLr(cfg.lrF);
            Optional<World.RandomStates> own = world.randomStates(c, state, listener::onMessage, run.device);
            if (own.isPresent()) {
                s.rng.setState(own.get().noise());
                own.get().restoreDropout(run.device);
            } else { // a rank the run did not have: a fresh stream of its own, seeded by the rank and step
                try (Generator fresh = new Generator(Networks.seed(trainingStream(cfg.seed, world.rank()), (int) c.step()))) {
                    s.rng.setState(fresh.state());
                }
                Torch.manualSeed(Networks.seed(cfg.seed, STREAM_DROPOUT + 16 * world.rank() + 65536 * (int) c.step()));
            }
            s.skipped = state.get("skipped").getAsLong();
            run.writeConfig();
            run.loop.restore(c, state, listener::onMessage);
            return run;
        } catch (RuntimeException e) {
            for (ScriptModule m : new ScriptModule[] {teacher, generator, ema, fake}) if (m != null) m.close();
            throw e;
        }
    }

    /**
     * The CLI's entry: resumes the run in {@code cfg.out} when {@code resume} is set and it has a
     * checkpoint, and otherwise starts a fresh one (building and checking the networks).
     */
    public static DistillRun open(DistillConfig cfg, boolean resume, TrainingListener<StepMetrics> listener) {
        return open(cfg, resume ? Resume.IF_ANY : Resume.NO, listener);
    }

    /** The CLI's entry: resumes as {@code resume} says ({@link Resume}), else starts a fresh run. */
    public static DistillRun open(DistillConfig cfg, Resume resume, TrainingListener<StepMetrics> listener) {
        return open(cfg, resume, listener, World.SINGLE);
    }

    /** The CLI's entry for rank {@code world.rank()} of a data-parallel run. */
    public static DistillRun open(DistillConfig cfg, Resume resume, TrainingListener<StepMetrics> listener, World world) {
        resume.requireCheckpointsIn(cfg.out);
        if (resume != Resume.NO) {
            Optional<DistillRun> r = resume(cfg, listener, world);
            if (r.isPresent()) return r.get();
            resume.noReadableCheckpoint(cfg.out, listener::onMessage);
        }
        cfg.validate();
        if (world.isMain()) RunFolder.prepare(cfg.out);
        Networks nets = Networks.resolve(cfg);
        try {
            return start(cfg, nets, world);
        } catch (RuntimeException e) {
            nets.close();
            throw e;
        }
    }

    // ---- the loop's side -------------------------------------------------------------------------

    /** Trains to {@code cfg.steps} or to a stop request (which writes a checkpoint first): {@link TrainingLoop#run}. */
    public TrainingLoop.Result run(TrainingListener<StepMetrics> listener, AtomicBoolean stop) {
        return loop.run(listener, stop);
    }

    @Override
    public void setModes() {
        generator.module().train(generatorTrains);
        teacher.module().train(cfg.trainMode);
        fake.module().train(cfg.trainMode);
        ema.module().train(false);
    }

    @Override
    public StepMetrics step(long n, boolean logging, TrainingListener<StepMetrics> listener) {
        return step.step(n, logging, listener);
    }

    /** Test hook: the device-side non-finite guard (CUDA's) on this run's device, or the host one. */
    void useDeviceGuard(boolean on) {
        step.deviceGuard = on;
    }

    /** One iteration as {@link #run} takes it, without logging or checkpoints: the hook of bench/TrainStepBench. */
    public void benchmarkStep() {
        loop.benchmarkStep();
    }

    @Override
    public long skipped() {
        return step.skipped();
    }

    @Override
    public Map<String, Object> state() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("latent_shape", latentShape);
        s.put("data_shape", dataShape);
        world.describe(s);
        return s;
    }

    @Override
    public Map<String, byte[]> parts() {
        // the step never applies a non-finite update; this makes sure no checkpoint can hold one
        for (ScriptModule m : new ScriptModule[] {generator.module(), ema.module(), fake.module()})
            if (!parametersFinite(m))
                throw new DiffInstruct.NonFiniteException("step " + loop.step() + ": the "
                        + (m == fake.module() ? "fake score" : m == ema.module() ? "EMA generator" : "generator")
                        + " has non-finite parameters; no checkpoint written, the last one is clean");
        // every rank's random states (a collective); the networks and optimisers are the same on all
        // ranks: rank 0's are saved
        Map<String, byte[]> random = world.randomStateParts(step.rngState(), device);
        if (!world.isMain()) return random;
        Map<String, byte[]> parts = new LinkedHashMap<>();
        parts.put("generator.pt", generator.module().toBytes());
        parts.put("generator_ema.pt", ema.module().toBytes());
        parts.put("fake.pt", fake.module().toBytes());
        step.saveOptimizers(parts);
        parts.putAll(random);
        return parts;
    }

    private static boolean parametersFinite(ScriptModule m) {
        try (Scope s = Scope.open()) {
            for (Tensor p : m.parameters()) if (!p.allFinite()) return false;
            return true;
        }
    }

    /** Writes the complete training state as the checkpoint of the current step (atomically), and the outputs. */
    public Path checkpoint(TrainingListener<StepMetrics> listener) {
        return loop.checkpoint(listener);
    }

    @Override
    public void writeOutputs() {
        ScriptModule g = generator.module();
        boolean training = g.isTraining();
        g.train(false);
        try {
            g.save(out.resolve("generator.pt"));
        } finally {
            g.train(training);
        }
        ema.module().save(out.resolve("generator_ema.pt"));
        fake.module().save(out.resolve("fake_score.pt"));
        writeConfig();
    }

    private void writeConfig() {
        if (world.isMain()) RunFolder.writeConfig(out, cfg.toJson());
    }

    // ---- access ----------------------------------------------------------------------------------

    public long step() {
        return loop.step();
    }

    public DistillConfig config() {
        return cfg;
    }

    public ScriptModule generator() {
        return generator.module();
    }

    public ScriptModule emaGenerator() {
        return ema.module();
    }

    public ScriptModule fakeScore() {
        return fake.module();
    }

    public ScriptModule teacher() {
        return teacher.module();
    }

    public long[] latentShape() {
        return latentShape.clone();
    }

    public long[] dataShape() {
        return dataShape.clone();
    }

    /** Where the networks live. */
    public Device device() {
        return device;
    }

    /** The run's checkpoints (tests simulate write failures through it). */
    public CheckpointStore checkpoints() {
        return loop.checkpoints();
    }

    /** The step itself: tests drive it directly. */
    StepMetrics trainStep(boolean logging, TrainingListener<StepMetrics> listener) {
        return step.step(loop.step(), logging, listener);
    }

    /**
     * n samples of the (EMA if {@code useEma}) generator, without gradient, in eval mode; in a
     * class-conditional run sample i is of class {@code i mod classes} (every class, in turn).
     */
    public Tensor sample(Generator g, long n, boolean useEma) {
        long[] labels = null;
        if (cfg.classes > 0) {
            labels = new long[Math.toIntExact(n)];
            for (int i = 0; i < labels.length; i++) labels[i] = i % cfg.classes;
        }
        return sample(g, n, useEma, labels);
    }

    /**
     * n samples of the (EMA if {@code useEma}) generator, without gradient, in eval mode; for a
     * class-conditional run {@code labels} holds each sample's class, else null.
     */
    public Tensor sample(Generator g, long n, boolean useEma, long[] labels) {
        if ((labels != null) != (cfg.classes > 0))
            throw new IllegalArgumentException(cfg.classes > 0 ? "this run has " + cfg.classes + " classes: give labels" : "this run is unconditional");
        if (labels != null && labels.length != n) throw new IllegalArgumentException("need " + n + " labels, got " + labels.length);
        GeneratorNet m = useEma ? ema : generator;
        boolean training = m.module().isTraining();
        m.module().train(false);
        Tensor out;
        try (var noGrad = Torch.noGrad(); Scope s = Scope.open()) {
            Tensor z = Tensor.randn(g, DType.FLOAT32, device, Shapes.prepend(n, latentShape));
            out = s.keep(m.forward(z, labels == null ? null : Teachers.oneHot(labels, cfg.classes, device)));
        } finally {
            m.module().train(training);
        }
        return out;
    }

    @Override
    public void close() {
        step.close();
        if (teacherStep != teacher) teacherStep.close();
        teacher.close();
        generator.close();
        ema.close();
        fake.close();
    }
}
