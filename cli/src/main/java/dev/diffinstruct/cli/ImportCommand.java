package dev.diffinstruct.cli;

import com.google.gson.JsonObject;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code import edm} and {@code import module}: pre-trained PyTorch networks in, a checked
 * TorchScript EDM teacher out. The Python side runs in a child process ({@link PythonHelper});
 * this side repeats the check on its own LibTorch and writes the teacher ({@link ImportedTeacher}).
 */
@Command(name = "import", header = "Turn an EDM pickle or any nn.Module into a teacher.", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Turn a pre-trained PyTorch diffusion network into a TorchScript EDM teacher D(x, sigma) "
                + "for distill, teacher-sample and eval: an NVlabs EDM network pickle (import edm), or any Python "
                + "nn.Module with its weights (import module).", "",
                "Security: a pickle can run any code when it is read. import edm reads the pickle with an allow-list "
                + "(globals outside the EDM format are refused before anything runs), but its check then builds the "
                + "network from the Python source inside the pickle (--no-exec skips that). import module imports "
                + "your Python module. Import only files you would run; this all happens in a Python child process, "
                + "never in the Java one.", "",
                "Examples:",
                "  ./diffinstruct import edm --pkl edm-cifar10-32x32-cond-vp.pkl --out cifar.pt",
                "  ./diffinstruct import module --module my_unet:build \\",
                "      --weights ema.safetensors --kind ddpm-eps --shape 3,32,32 --out teacher.pt"},
        subcommands = {ImportCommand.Edm.class, ImportCommand.Module.class})
final class ImportCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "import needs a source: edm or module");
    }

    /** Options both import commands take. */
    static final class Common {
        @Mixin
        GlobalOptions global;

        @Spec(Spec.Target.MIXEE)
        CommandSpec spec;

        @Option(names = "--out", required = true, paramLabel = "T.pt", description = "The TorchScript teacher to write (atomically; nothing is written when a check fails).")
        Path out;

        @Option(names = "--python", paramLabel = "PY", description = "The Python with torch and numpy that reads the checkpoint (default: $DIFFINSTRUCT_PYTHON, else the first of python3 and /usr/bin/python3 that has them). Its torch should be no newer than this tool's LibTorch, which must read the file it writes.")
        String python;

        @Option(names = "--tolerance", defaultValue = "1e-4", paramLabel = "TOL", description = "Largest max |D_script - D_eager| / max(1, max |D|) accepted, in Python and on this tool's LibTorch (default: ${DEFAULT-VALUE}).")
        double tolerance;
    }

    @Command(name = "edm", header = "Import an NVlabs EDM network pickle as a teacher.", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Import an NVlabs EDM network pickle (edm-*.pkl, network-snapshot-*.pkl): its 'ema' network "
                    + "(EDMPrecond, VPPrecond, VEPrecond or iDDPMPrecond around SongUNet or DhariwalUNet) becomes a "
                    + "TorchScript EDM denoiser forward(x, sigma) or, for class-conditional nets, forward(x, sigma, "
                    + "class_labels one-hot), with attributes data_shape, sigma_data, label_dim and num_classes. VP, VE "
                    + "and iDDPM nets keep their own preconditioning, which already is the EDM convention; float32 "
                    + "weights (fp16 nets run in float32). The EDM repository is not needed: the format's few helpers "
                    + "are stood in. Checked before writing: the TorchScript network against the pickle's own eager "
                    + "network on 10 noisy inputs at sigma 0.002..80 (labels cycling), in Python and again on this "
                    + "tool's LibTorch.", "",
                    "A pickle can run code when read: see ./diffinstruct import --help.", "",
                    "Example:",
                    "  ./diffinstruct import edm --pkl edm-cifar10-32x32-cond-vp.pkl --out cifar.pt"})
    static final class Edm implements Callable<Integer> {
        @Option(names = "--pkl", required = true, paramLabel = "NET.pkl", description = "The network pickle.")
        Path pkl;

        @Option(names = "--key", defaultValue = "ema", paramLabel = "KEY", description = "The pickle's entry that holds the network (default: ${DEFAULT-VALUE}).")
        String key;

        @Option(names = "--no-exec", description = "Check against this importer's own eager network instead of building the pickle's embedded source (no code of the pickle runs at all).")
        boolean noExec;

        @Mixin
        Common common;

        @Override
        public Integer call() {
            CliIo.inputFile(pkl, "--pkl");
            List<String> args = new ArrayList<>(List.of("edm", "--pkl", pkl.toAbsolutePath().toString(), "--key", key,
                    "--tolerance", Double.toString(common.tolerance)));
            if (noExec) args.add("--no-exec");
            return ImportedTeacher.importAndWrite(common, args, TeacherKind.EDM, null);
        }
    }

    @Command(name = "module", header = "Import any Python diffusion network as a teacher.", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Import any Python diffusion network (guided-diffusion, score_sde, your own code): --module "
                    + "names a factory that builds the nn.Module, --weights its state dict (.pt/.pth read with "
                    + "torch.load(weights_only=True), or .safetensors; an 'ema', 'state_dict' or 'model' entry and a "
                    + "'module.' prefix are found by themselves). The network is wrapped to the signature --kind needs, "
                    + "scripted (or traced with --trace), checked against the eager network (in Python and on this "
                    + "tool's LibTorch) and written as an EDM teacher: VP and DDPM networks get the EDM view "
                    + "(teacher-sample --help explains it), so the file is used with the default --teacher-kind edm. "
                    + "A TorchScript file (the tool's own train-teacher output, say) may be given as --module.", "",
                    "Examples:",
                    "  ./diffinstruct import module --module guided_diffusion_factory:cifar \\",
                    "      --path ~/src --weights ema.pt --kind ddpm-eps --schedule cosine \\",
                    "      --shape 3,32,32 --classes 10 --labels index --trace --out gd.pt",
                    "  ./diffinstruct import module --module run/teacher.pt --kind edm --out t.pt"})
    static final class Module implements Callable<Integer> {
        @Option(names = "--module", required = true, paramLabel = "pkg.mod:Factory", description = "The factory (pkg.mod:Factory or file.py:Factory, called with --kwargs), or a TorchScript .pt file.")
        String module;

        @Option(names = "--kwargs", paramLabel = "JSON", description = "Keyword arguments of the factory, a JSON object, e.g. '{\"channels\": 128}'.")
        String kwargs;

        @Option(names = "--path", paramLabel = "DIR", description = "A folder to put on Python's module path (repeatable); the current folder is always on it.")
        List<Path> path = new ArrayList<>();

        @Option(names = "--weights", paramLabel = "W.pt", description = "The state dict (.pt, .pth, .safetensors); without it the factory's own weights are kept.")
        Path weights;

        @Option(names = "--weights-key", paramLabel = "KEY", description = "The entry of a checkpoint dict that holds the state dict (default: the first of ema, model_ema, ema_model, params_ema, state_dict, model, net, params).")
        String weightsKey;

        @Option(names = "--kind", required = true, paramLabel = "KIND", converter = ScheduleOptions.KindConverter.class,
                description = "What the network computes: edm (D(x, sigma)), vp-eps (eps(x_t, t float), continuous VP-SDE), ddpm-eps or ddpm-v (eps or v (x_t, t int64), discrete DDPM).")
        TeacherKind kind;

        @Mixin
        ScheduleOptions schedule;

        @Option(names = "--shape", split = ",", paramLabel = "D", description = "Shape of one sample, C,H,W (default: a TorchScript module's data_shape attribute).")
        long[] shape;

        @Option(names = "--classes", defaultValue = "0", paramLabel = "C", description = "Classes of a class-conditional network (0: unconditional); it gets a third argument, the labels (default: ${DEFAULT-VALUE}).")
        int classes;

        @Option(names = "--labels", defaultValue = "one-hot", paramLabel = "one-hot|index", description = "How the network takes labels: one-hot float [N, C] (EDM), or int64 indices [N] (guided-diffusion's y) (default: ${DEFAULT-VALUE}).")
        String labels;

        @Option(names = "--trace", description = "torch.jit.trace instead of torch.jit.script (for Python code TorchScript cannot compile; data-dependent branches are frozen).")
        boolean trace;

        @Mixin
        Common common;

        @Override
        public Integer call() {
            if (classes < 0) throw new InvalidInputException("--classes must be >= 0, got " + classes);
            if (!labels.equals("one-hot") && !labels.equals("index"))
                throw new InvalidInputException("--labels must be one-hot or index, got " + labels);
            if (weights != null) CliIo.inputFile(weights, "--weights");
            if (shape != null) CliIo.checkShape(shape, "--shape");
            Path asFile = Path.of(module);
            boolean file = module.endsWith(".pt") || module.endsWith(".py") || module.contains(".py:");
            String mod = file && module.endsWith(".pt") ? CliIo.inputFile(asFile, "--module").toAbsolutePath().toString() : module;
            List<String> args = new ArrayList<>(List.of("module", "--module", mod, "--kind", kind.toString(),
                    "--classes", Integer.toString(classes), "--labels", labels,
                    "--time-scale", Double.toString(schedule.timeScale), "--ddpm-steps", Integer.toString(schedule.ddpmSteps),
                    "--tolerance", Double.toString(common.tolerance)));
            if (kwargs != null) args.addAll(List.of("--kwargs", kwargs));
            for (Path p : path) args.addAll(List.of("--path", p.toAbsolutePath().toString()));
            if (weights != null) args.addAll(List.of("--weights", weights.toAbsolutePath().toString()));
            if (weightsKey != null) args.addAll(List.of("--weights-key", weightsKey));
            if (shape != null) args.addAll(List.of("--shape", CliIo.shapeString(shape)));
            if (trace) args.add("--trace");
            return ImportedTeacher.importAndWrite(common, args, kind, schedule);
        }
    }

    /** The summary's figures, for the closing line. */
    static String describe(JsonObject s) {
        StringBuilder b = new StringBuilder();
        if (s.has("precond")) b.append(s.get("precond").getAsString()).append('(').append(s.get("model").getAsString()).append(")");
        else b.append(s.get("module").getAsString()).append(" as ").append(s.get("kind").getAsString());
        b.append(String.format(", %.1f M parameters", s.get("parameters").getAsLong() / 1e6));
        return b.toString();
    }
}
