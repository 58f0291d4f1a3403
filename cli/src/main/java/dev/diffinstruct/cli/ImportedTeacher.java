package dev.diffinstruct.cli;

import com.google.gson.JsonObject;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import dev.diffinstruct.trainer.diffusion.Teachers;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The Java half of an import: reads the TorchScript file the Python helper wrote with this tool's
 * LibTorch, repeats the helper's check on it (same inputs, the eager network's outputs), puts the
 * EDM view around VP and DDPM networks and writes the teacher atomically. A file that this LibTorch
 * cannot read, or that computes something else here, is refused: nothing is written.
 */
final class ImportedTeacher {
    private ImportedTeacher() {}

    static int importAndWrite(ImportCommand.Common common, List<String> args, TeacherKind kind, ScheduleOptions schedule) {
        CommandLine cl = common.spec.commandLine();
        PrintWriter err = cl.getErr(), out = cl.getOut();
        Path target = outputPt(common.out);
        if (!(common.tolerance >= 0)) throw new InvalidInputException("--tolerance must be >= 0, got " + common.tolerance);
        long t0 = System.nanoTime();
        try (PythonHelper py = PythonHelper.open(common.python)) {
            err.println("running the import in " + py.python() + " (a child process; unpickling happens only there)");
            err.flush();
            JsonObject summary = py.run(args, err);
            String pyTorch = summary.get("torch").getAsString();
            long[] shape = summary.getAsJsonArray("data_shape").asList().stream().mapToLong(e -> e.getAsLong()).toArray();
            int labelDim = summary.get("label_dim").getAsInt();
            try (ScriptModule raw = load(py.work().resolve("teacher.pt"), pyTorch); Scope s = Scope.open()) {
                double javaError = recheck(raw, py.work(), common.tolerance, pyTorch);
                TeacherSpec view = TeacherSpec.of(TeacherKind.EDM).withClasses(labelDim);
                ScriptModule teacher = kind == TeacherKind.EDM ? raw : Teachers.asDenoiser(raw, schedule.spec(kind, labelDim));
                try {
                    if (!teacher.hasAttribute("data_shape")) teacher.setAttribute("data_shape", shape);
                    if (!teacher.hasAttribute("num_classes")) teacher.setAttribute("num_classes", (long) labelDim);
                    if (!teacher.hasAttribute("label_dim")) teacher.setAttribute("label_dim", (long) labelDim);
                    Teachers.check(teacher, view, shape, Device.CPU, "the imported teacher");
                    teacher.save(target);
                } finally {
                    if (teacher != raw) teacher.close();
                }
                out.printf("wrote %s: %s, data %s, %s; check at sigma 0.002..80: %.1e in Python (torch %s), %.1e on this "
                                + "LibTorch (%s), tolerance %.1e (%.1f s)%n", target, ImportCommand.describe(summary), CliIo.shapeString(shape),
                        labelDim > 0 ? labelDim + " classes" : "unconditional", summary.get("error").getAsDouble(), pyTorch,
                        javaError, Torch.version(), common.tolerance, (System.nanoTime() - t0) / 1e9);
                out.printf("use it: ./diffinstruct distill --teacher %s%s --out RUN%n", target, labelDim > 0 ? " --classes " + labelDim : "");
                if (kind != TeacherKind.EDM)
                    out.printf("(a %s network in the EDM view: %s; give distill the default --teacher-kind edm)%n", kind,
                            schedule.spec(kind, labelDim).describe());
            }
        }
        return Main.EXIT_OK;
    }

    /** --out: a .pt file in an existing, writable folder. */
    private static Path outputPt(Path p) {
        if (!p.getFileName().toString().endsWith(".pt")) throw new InvalidInputException("--out " + p + ": must end in .pt");
        Path dir = p.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) throw new InvalidInputException("--out " + p + ": folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new InvalidInputException("--out " + p + ": folder " + dir + " is not writable");
        if (Files.isDirectory(p)) throw new InvalidInputException("--out " + p + ": is a directory");
        return p;
    }

    private static ScriptModule load(Path file, String pyTorch) {
        try {
            return ScriptModule.load(file).train(false).requiresGrad(false);
        } catch (ModelFileException e) {
            throw new InvalidInputException("this tool's LibTorch " + Torch.version() + " cannot read the TorchScript file that "
                    + "Python's torch " + pyTorch + " wrote (" + e.getMessage().replaceFirst("^Module.load: ", "")
                    + "): give --python a Python whose torch is no newer than " + Torch.version(), e);
        }
    }

    /** The helper's check once more on this LibTorch: the same inputs, against the eager network's outputs. */
    private static double recheck(ScriptModule raw, Path work, double tolerance, String pyTorch) {
        try (Scope s = Scope.open(); Torch.GradMode g = Torch.noGrad()) {
            Tensor x = Npy.read(work.resolve("check_x.npy")), t = Npy.read(work.resolve("check_t.npy"));
            Tensor expected = Npy.read(work.resolve("check_expected.npy"));
            Path labelsFile = work.resolve("check_labels.npy");
            Tensor got;
            try {
                got = Files.exists(labelsFile) ? raw.forward(x, t, Npy.read(labelsFile)) : raw.forward(x, t);
            } catch (TorchException e) {
                throw new InvalidInputException("the imported network fails on this tool's LibTorch " + Torch.version()
                        + " (it ran in Python's torch " + pyTorch + "): " + e.summary(), e);
            }
            double scale = Math.max(1.0, expected.abs().max().item());
            double error = got.sub(expected).abs().max().item() / scale;
            if (!(error <= tolerance))
                throw new InvalidInputException(String.format("on this tool's LibTorch %s the imported network differs from "
                        + "the eager one by %.2e > --tolerance %s (Python's torch %s agreed)", Torch.version(), error, tolerance, pyTorch));
            return error;
        }
    }
}
