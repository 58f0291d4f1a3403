package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.StopRequest;
import dev.diffinstruct.trainer.run.Resume;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import dev.diffinstruct.trainer.run.World;
import dev.diffinstruct.trainer.teacher.TeacherConfig;
import dev.diffinstruct.trainer.teacher.TeacherMetrics;
import dev.diffinstruct.trainer.teacher.TeacherRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code train-teacher}: trains a diffusion model (EDM denoising score matching) on images. */
@Command(name = "train-teacher", header = "Train a diffusion teacher (an EDM denoiser) on images.", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a diffusion model, the teacher that distill distils, on images: EDM denoising score matching of a "
                + "TorchScript denoiser forward(x, sigma) (or forward(x, sigma, class_labels) with --classes), e.g. the output of "
                + "models/export_unet.py. Writes OUT/teacher.pt (EMA weights; eval mode; attributes data_shape, sigma_data, label_dim), "
                + "OUT/teacher_raw.pt (last weights), metrics.jsonl, config.json and checkpoints/; the teachers are rewritten at every "
                + "checkpoint, so a long run always offers its latest one. SIGTERM or Ctrl-C writes a checkpoint; --resume continues "
                + "(bit-exactly on CPU).", "",
                "Example:",
                "  /usr/bin/python3 models/export_unet.py --out unet.pt",
                "  ./diffinstruct train-teacher --data fashion-mnist --model unet.pt \\",
                "      --out runs/teacher --threads 1",
                ""})
final class TrainTeacherCommand implements Callable<Integer> {
    @Mixin
    GlobalOptions global;

    @Option(names = "--data", paramLabel = "SPEC",
            description = "Training images: fashion-mnist (= fashion-mnist:train), fashion-mnist:test, a folder of PNGs (sub-folders = classes) or an .npy [N, C, H, W] (default: fashion-mnist).")
    String data;

    @Option(names = "--model", paramLabel = "UNET.pt",
            description = "The TorchScript denoiser to train, EDM convention: forward(x, sigma) -> D(x, sigma) (required; saved in eval mode is fine: it is trained in train mode).")
    Path model;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (required).")
    String out;

    @Option(names = "--classes", paramLabel = "K",
            description = "Class-conditional training on the dataset's labels, one-hot [N, K], passed as forward's third argument; 0 = unconditional (default: 0).")
    Integer classes;

    @Option(names = "--hflip", description = "Mirror each training image left-right with probability 1/2 (default: off).")
    boolean hflip;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (default: 4000).")
    Long steps;

    @Option(names = "--batch", paramLabel = "N", description = "Images per step (default: 128).")
    Integer batch;

    @Option(names = "--lr", paramLabel = "LR", description = "Adam learning rate (default: 1e-3).")
    Double lr;

    @Option(names = "--betas", hideParamSyntax = true, paramLabel = "B1,B2", split = ",", description = "Adam betas (default: 0.9,0.999).")
    double[] betas;

    @Option(names = "--lr-warmup", paramLabel = "N", description = "Linear learning-rate warm-up over the first N steps; 0 = off (default: 200).")
    Long lrWarmup;

    @Option(names = "--grad-clip", paramLabel = "N", description = "Clip the gradient's L2 norm to N; 0 = off (default: 0).")
    Double gradClip;

    @Option(names = "--ema-halflife", paramLabel = "IMAGES",
            description = "Half-life of the weight average written as teacher.pt, in training images (EDM: ema_halflife_kimg * 1000); 0 = no averaging (default: 50000).")
    Double emaHalflife;

    @Option(names = "--ema-rampup", paramLabel = "R",
            description = "EDM's ramp-up: the half-life is at most R x the images seen so far; 0 = off (default: 0.05).")
    Double emaRampup;

    @Option(names = "--sigma-data", paramLabel = "S", description = "EDM's sigma_data of the loss weight (default: 0.5).")
    Double sigmaData;

    @Option(names = "--p-mean", paramLabel = "M", description = "Mean of ln(sigma) (default: -1.2).")
    Double pMean;

    @Option(names = "--p-std", paramLabel = "S", description = "Std of ln(sigma) (default: 1.2).")
    Double pStd;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the batches, noise and dropout; the same seed gives the same run on CPU (default: 0).")
    Long seed;

    @Option(names = "--device", paramLabel = "DEV", description = "auto (CUDA when this libtorch has a GPU, else the CPU), cpu, cuda or cuda:N (default: auto).")
    String device;

    @Option(names = "--cudnn-benchmark", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "cuDNN's autotuner for convolutions on CUDA: faster steps, algorithms (and last bits) that may differ"
                    + " between runs; no effect on a CPU. May change on --resume (default: on, as in EDM's training code).")
    Boolean cudnnBenchmark;

    @Option(names = "--log-every", paramLabel = "N", description = "Log the mean loss of the last N steps to metrics.jsonl (default: 50).")
    Long logEvery;

    @Option(names = "--ckpt-every", paramLabel = "N", description = "Checkpoint every N steps, and at the end (default: 500).")
    Long ckptEvery;

    @Option(names = "--keep-checkpoints", paramLabel = "N", description = "Checkpoints kept (default: 2).")
    Integer keepCheckpoints;

    @Option(names = "--config", paramLabel = "RUN.json",
            description = "Options from a JSON object (keys: long option names without dashes, e.g. {\"steps\": 8000, \"lr\": 5e-4}); flags given here override it.")
    Path config;

    @Option(names = {"-q", "--quiet"}, description = "No progress output (errors and the final summary only).")
    boolean quiet;

    @Option(names = "--nproc-per-node", paramLabel = "N",
            description = "Train data-parallel in N processes on this machine (c10d: Gloo on CPU, NCCL on CUDA); --batch is the global batch, split evenly. Multi-node: torchrun-style RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT.")
    Integer nprocPerNode;

    @Option(names = "--resume", arity = "0..1", fallbackValue = "on", paramLabel = "auto",
            description = "Continue the run in --out from its latest checkpoint; an --out without one is an error. --resume=auto: continue if there is a checkpoint, else start fresh (for job schedulers that rerun one command).")
    String resume;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (config != null) ConfigFileDefaults.read(config).validate(spec);
        TeacherConfig cfg = toConfig();
        cfg.given = GivenOptions.fields(spec);
        return Launcher.train(nprocPerNode, cfg.batch,
                () -> dev.diffinstruct.trainer.DeviceOption.parse(cfg.device == null ? "auto" : cfg.device).toString(), device, cfg.out, spec,
                (rankDevice, world) -> {
            cfg.device = rankDevice;
            return train(cfg, world);
        });
    }

    private int train(TeacherConfig cfg, World world) {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (!world.isMain()) { // the same steps, quietly: rank 0 reports
            try (TeacherRun trainer = TeacherRun.open(cfg, Resume.of(resume), TrainingListener.none(), world)) {
                return trainer.run(TrainingListener.none(), StopRequest.flag()).stopped() ? StopRequest.exitCode() : Main.EXIT_OK;
            }
        }
        boolean terminal = Progress.stdoutIsTerminal();
        // SIGTERM / Ctrl-C (StopRequest): the loop writes a checkpoint at the next step and returns
        try (TeacherRun trainer = TeacherRun.open(cfg, Resume.of(resume), RunListener.messages(err), world)) {
            if (world.size() > 1) err.println("data-parallel: " + world.size() + " processes, " + cfg.batch / world.size() + " images each of --batch " + cfg.batch);
            if (!quiet) out.println("training " + cfg.model + " on " + trainer.data() + ", " + trainer.model().parameterCount()
                    + " parameters, into " + cfg.out);
            RunListener<TeacherMetrics> listener = new RunListener<>(
                    new RunReport(new Progress(out, terminal, quiet, trainer.step(), trainer.config().steps), terminal, err), trainer.config().steps,
                    m -> List.of(Map.entry("loss", m.loss()), Map.entry("|grad|", m.gradNorm()), Map.entry("lr", m.lr())), step -> {});
            long start = trainer.step();
            TrainingLoop.Result r = trainer.run(listener, StopRequest.flag());
            if (r.stopped()) {
                listener.report.stopped(r.step(), RunReport.RESUME_ADVICE);
                return StopRequest.exitCode();
            }
            listener.report.done(start, r.step(), r.wallSeconds(), r.skippedSteps());
            out.println("wrote " + r.out().resolve("teacher.pt") + " (EMA), teacher_raw.pt, metrics.jsonl, config.json");
            out.flush();
            return Main.EXIT_OK;
        }
    }

    /** The configuration: TeacherConfig's defaults, then the options given. */
    TeacherConfig toConfig() {
        TeacherConfig c = new TeacherConfig();
        if (model == null) throw new InvalidInputException("--model UNET.pt is required (e.g. from /usr/bin/python3 models/export_unet.py --out unet.pt)");
        if (out == null) throw new InvalidInputException("--out DIR is required");
        if (data != null) c.data = data;
        if (Resume.of(resume) != Resume.YES) CliIo.inputFile(model, "--model"); // a resume reloads the checkpoint's model
        c.model = model.toString();
        c.out = out;
        if (classes != null) c.classes = classes;
        if (cudnnBenchmark != null) c.cudnnBenchmark = cudnnBenchmark;
        c.hflip = hflip;
        if (steps != null) c.steps = steps;
        if (batch != null) c.batch = batch;
        if (lr != null) c.lr = lr;
        if (betas != null) {
            if (betas.length != 2) throw new InvalidInputException("--betas takes two numbers, B1,B2");
            c.beta1 = betas[0];
            c.beta2 = betas[1];
        }
        if (lrWarmup != null) c.lrWarmup = lrWarmup;
        if (gradClip != null) c.gradClip = gradClip;
        if (emaHalflife != null) c.emaHalflife = emaHalflife;
        if (emaRampup != null) c.emaRampup = emaRampup;
        if (sigmaData != null) c.sigmaData = sigmaData;
        if (pMean != null) c.pMean = pMean;
        if (pStd != null) c.pStd = pStd;
        if (seed != null) c.seed = seed;
        if (device != null) c.device = device;
        if (logEvery != null) c.logEvery = logEvery;
        if (ckptEvery != null) c.ckptEvery = ckptEvery;
        if (keepCheckpoints != null) c.keepCheckpoints = keepCheckpoints;
        return c.validate();
    }
}
