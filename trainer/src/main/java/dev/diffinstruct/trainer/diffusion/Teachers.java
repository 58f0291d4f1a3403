package dev.diffinstruct.trainer.diffusion;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;

import java.nio.file.Path;

/**
 * Turns any teacher into the EDM view the trainer and samplers use: a TorchScript module with
 * {@code forward(x[N, ...], sigma[N]) -> D(x, sigma)}, or {@code forward(x, sigma, class_labels)}
 * (one-hot [N, C]) for class-conditional teachers, plus {@code round_sigma(sigma)} (the noise
 * levels the teacher can actually take: identity except for DDPM tables).
 *
 * <p>The wrapper holds the raw network as submodule {@code net}, its schedule tables as buffers,
 * and is written in TorchScript, so it runs inside libtorch, can be saved and loaded in Python,
 * and gradients flow through it. The maths, with {@code c_in = 1 / sqrt(1 + sigma^2)} the VP
 * scaling {@code x_t = alpha x}:
 * <ul>
 *   <li>{@code edm}: {@code D = net(x, sigma)}.</li>
 *   <li>{@code vp-eps}: {@code t = sigma^-1(sigma)} in closed form (as EDM's VPPrecond.sigma_inv,
 *       in float64), {@code D = x - sigma * net(c_in x, timeScale * t)}.</li>
 *   <li>{@code ddpm-eps}: {@code k} = index of the nearest table level {@code sigma_k =
 *       sqrt((1 - abar_k) / abar_k)} (as EDM's iDDPMPrecond.round_sigma), {@code D = x - sigma *
 *       net(c_in x, k)}. As in EDM, the scalings use the sigma given, the table only picks the
 *       time index; at table levels this is exactly the DDPM parameterisation.</li>
 *   <li>{@code ddpm-v}: {@code x0 = sqrt(abar) x_t - sqrt(1 - abar) v} with {@code abar = 1 / (1 +
 *       sigma^2)}, i.e. {@code D = c_in^2 x - sigma c_in net(c_in x, k)}.</li>
 * </ul>
 */
public final class Teachers {
    private Teachers() {}

    /**
     * Wraps {@code raw} as an EDM-view denoiser for {@code spec}. {@code raw} is shared, not copied
     * (closing the Java handle of {@code raw} afterwards is fine). The result belongs to the caller.
     *
     * @throws InvalidInputException if raw's forward cannot be called the way {@code spec.kind()} needs
     */
    public static ScriptModule asDenoiser(ScriptModule raw, TeacherSpec spec) {
        ScriptModule m = ScriptModule.create("EdmView_" + spec.kind().name());
        boolean ok = false;
        try (Scope scope = Scope.open()) {
            m.registerModule("net", raw);
            m.setAttribute("num_classes", (long) spec.classes());
            copyDataShape(raw, m);
            switch (spec.kind()) {
                case EDM -> { }
                case VP_EPS -> {
                    m.setAttribute("beta_min", spec.betaMin());
                    m.setAttribute("beta_d", spec.betaMax() - spec.betaMin());
                    m.setAttribute("time_scale", spec.timeScale());
                    m.setAttribute("sigma_max", spec.vpSigma(1.0));
                }
                case DDPM_EPS, DDPM_V -> {
                    double[] sigmas = spec.ddpmSigmas();
                    m.registerBuffer("sigmas", Tensor.of(sigmas, sigmas.length));
                    m.setAttribute("sigma_min", sigmas[0]);
                    m.setAttribute("sigma_max", sigmas[sigmas.length - 1]);
                }
            }
            try {
                m.define(source(spec));
            } catch (TorchException e) {
                throw new InvalidInputException("teacher does not fit --teacher-kind " + spec.kind() + ": expected "
                        + spec.kind().signature(spec.conditional()) + ", but its method is " + forwardSchema(raw)
                        + " (" + defineReason(e) + ")", e);
            }
            ok = true;
            return m;
        } finally {
            if (!ok) m.close();
        }
    }

    /** The raw network's {@code data_shape} attribute (a list of ints), if it has one, on the view too. */
    private static void copyDataShape(ScriptModule raw, ScriptModule view) {
        if (!raw.hasAttribute("data_shape")) return;
        try {
            view.setAttribute("data_shape", raw.getIntList("data_shape"));
        } catch (TorchException e) {
            // not a list of ints: the caller asks for the data shape instead
        }
    }

    /**
     * The one teacher loader (distill, its resume, teacher-sample, inspect): {@code teacher} is a
     * TorchScript file or {@link MixtureTeacher#BUILTIN}; the file is read as {@code spec} says and
     * becomes the EDM view ({@link #asDenoiser}; an unconditional EDM file is that view as it is),
     * frozen (no gradients), in eval mode, on {@code device}. A missing or invalid file, a
     * {@code num_classes} attribute that disagrees with the spec and a forward that does not fit the
     * kind are one line naming the teacher ({@link InvalidInputException}). The caller owns the result.
     */
    public static ScriptModule load(String teacher, TeacherSpec spec, Device device) {
        String name = "teacher " + teacher;
        ScriptModule view;
        if (MixtureTeacher.BUILTIN.equals(teacher)) {
            view = MixtureTeacher.defaultRing().toModule();
        } else {
            ScriptModule raw;
            try {
                raw = ScriptModule.load(Path.of(teacher));
            } catch (ModelFileException e) {
                throw new InvalidInputException("teacher " + e.getMessage().replaceFirst("^Module.load: ", ""), e);
            }
            try {
                raw.requiresGrad(false); // frozen: the view only holds it
                checkClassesAttribute(raw, name, spec.classes());
                view = spec.kind() == TeacherKind.EDM && !spec.conditional() ? raw : asDenoiser(raw, spec);
            } catch (TorchException e) {
                raw.close();
                throw new InvalidInputException(name + " cannot be read as --teacher-kind " + spec.kind() + ": " + e.summary(), e);
            } catch (InvalidInputException e) {
                boolean named = e.getMessage().startsWith(name);
                String hint = named ? "" : classesHint(raw, spec.classes());
                raw.close();
                throw named ? e : new InvalidInputException(name + ": " + e.getMessage() + hint, e);
            }
            if (view != raw) raw.close();
        }
        try {
            return view.to(device).requiresGrad(false).train(false);
        } catch (RuntimeException e) {
            view.close();
            throw e;
        }
    }

    /** {@link #load(String, TeacherSpec, Device)} of a file. */
    public static ScriptModule load(Path file, TeacherSpec spec, Device device) {
        return load(file.toString(), spec, device);
    }

    /** The --classes hint for a teacher the view refused (raw: the file's network). */
    private static String classesHint(ScriptModule raw, int classes) {
        int args = Denoiser.forwardArgs(raw);
        if (classes > 0 && args == 2) return " (it looks unconditional: drop --classes)";
        if (classes == 0 && args == 3) return " (it looks class-conditional: give --classes C)";
        return "";
    }

    /** A network's num_classes attribute, when it has one, must agree with --classes. */
    public static void checkClassesAttribute(ScriptModule m, String name, int classes) {
        if (!m.hasAttribute("num_classes")) return;
        double n;
        try {
            n = m.getDouble("num_classes");
        } catch (TorchException e) {
            return; // not a number: not ours to judge
        }
        if (n == classes) return;
        if (classes == 0) throw new InvalidInputException(name + " is class-conditional (num_classes " + (long) n + "): give --classes " + (long) n);
        throw new InvalidInputException(name + " has num_classes " + (long) n + " but --classes is " + classes);
    }

    /**
     * Runs the teacher's EDM view once on two dummy samples of {@code shape} (no batch dimension)
     * ({@link Denoiser#check}): a teacher that does not fit the kind, the class count or the data
     * shape fails here with one clear line instead of deep in a run.
     */
    public static void check(ScriptModule denoiser, TeacherSpec spec, long[] shape, Device device, String name) {
        Denoiser.check(denoiser, spec.classes(), name, "--teacher-kind " + spec.kind()
                + (spec.conditional() ? " with " + spec.classes() + " classes" : "") + " and data shape " + shapeString(shape), device, shape);
    }

    /** One-hot float32 labels [n, classes] for int labels. */
    public static Tensor oneHot(long[] labels, int classes, Device device) {
        for (long l : labels)
            if (l < 0 || l >= classes) throw new InvalidInputException("class label " + l + " is outside [0, " + classes + ")");
        Tensor out;
        try (Scope s = Scope.open()) {
            out = s.keep(Tensor.of(labels, labels.length).oneHot(classes).to(DType.FLOAT32).to(device));
        }
        return out;
    }

    /** Applies the module's {@code round_sigma} if it has one (DDPM tables), else returns a copy. */
    public static double[] roundSigmas(ScriptModule denoiser, double[] sigmas) {
        if (!denoiser.hasMethod("round_sigma")) return sigmas.clone();
        try (Scope s = Scope.open()) {
            return denoiser.runOne("round_sigma", Tensor.of(sigmas, sigmas.length)).toDoubleArray();
        }
    }

    static String shapeString(long[] shape) {
        StringBuilder b = new StringBuilder();
        for (long d : shape) b.append(b.isEmpty() ? "" : ",").append(d);
        return b.toString();
    }

    private static String forwardSchema(ScriptModule raw) {
        try {
            for (String m : raw.methods()) if (m.startsWith("forward(")) return m.replaceAll("__torch__\\.[\\w.]+ self, ", "");
            return "(no forward method)";
        } catch (TorchException e) {
            return "(unknown)";
        }
    }

    /** What TorchScript's compiler said about the call of net.forward, e.g. "Expected at most 3 arguments ...". */
    private static String defineReason(TorchException e) {
        for (String l : e.nativeMessage().split("\n")) {
            String t = l.strip();
            if (t.isEmpty() || t.startsWith("forward(") || t.startsWith("File ") || t.startsWith("~")) continue;
            if (t.contains("rgument") || t.contains("xpected") || t.contains("Error")) return t.replaceAll("[:.]$", "");
        }
        return reason(e);
    }

    /**
     * The line of a TorchScript error that says what went wrong: its last "...Error: ..." line, or
     * its first line. Interpreter errors start with a traceback, so the first line alone says little.
     */
    public static String reason(TorchException e) {
        String[] lines = e.nativeMessage().split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String l = lines[i].strip();
            if (l.matches("^[A-Za-z.]*Error: .*")) return l.replaceFirst("^[A-Za-z.]*Error: ", "");
        }
        for (String l : lines) if (!l.isBlank()) return l.strip();
        return e.getMessage();
    }

    /** The TorchScript source of the wrapper's methods for {@code spec}. */
    static String source(TeacherSpec spec) {
        boolean cond = spec.conditional();
        String labelsParam = cond ? ", class_labels: Tensor" : "";
        String labelsArg = cond ? ", class_labels" : "";
        String head = """
                def forward(self, x: Tensor, sigma: Tensor%s) -> Tensor:
                    sigma = sigma.reshape(-1).expand(x.size(0))
                    shape = [-1] + [1] * (x.dim() - 1)
                    s = sigma.to(x.dtype).reshape(shape)
                """.formatted(labelsParam);
        String body = switch (spec.kind()) {
            case EDM -> """
                        return self.net.forward(x, sigma%s).to(x.dtype)
                    """.formatted(labelsArg);
            case VP_EPS -> """
                        sd = sigma.double()
                        t = (torch.sqrt(self.beta_min * self.beta_min + 2.0 * self.beta_d * torch.log1p(sd * sd)) - self.beta_min) / self.beta_d
                        c_in = torch.rsqrt(1.0 + s * s)
                        eps = self.net.forward(x * c_in, (t * self.time_scale).to(x.dtype)%s).to(x.dtype)
                        return x - s * eps
                    """.formatted(labelsArg);
            case DDPM_EPS -> """
                        c_in = torch.rsqrt(1.0 + s * s)
                        eps = self.net.forward(x * c_in, self.round_index(sigma)%s).to(x.dtype)
                        return x - s * eps
                    """.formatted(labelsArg);
            case DDPM_V -> """
                        c_in = torch.rsqrt(1.0 + s * s)
                        v = self.net.forward(x * c_in, self.round_index(sigma)%s).to(x.dtype)
                        return c_in * c_in * x - s * c_in * v
                    """.formatted(labelsArg);
        };
        String round = spec.kind().isDdpm() ? """

                def round_index(self, sigma: Tensor) -> Tensor:
                    table = self.sigmas.double()
                    d = (sigma.double().reshape(-1, 1) - table.reshape(1, -1)).abs()
                    return d.argmin(1)

                def round_sigma(self, sigma: Tensor) -> Tensor:
                    return self.sigmas.index_select(0, self.round_index(sigma)).to(sigma.dtype).reshape(sigma.shape)
                """ : """

                def round_sigma(self, sigma: Tensor) -> Tensor:
                    return sigma
                """;
        return head + body + round;
    }
}
