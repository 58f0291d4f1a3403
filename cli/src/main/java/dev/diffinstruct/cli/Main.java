package dev.diffinstruct.cli;

import dev.diffinstruct.torch.ModelFileException;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.IoErrors;
import dev.diffinstruct.trainer.StopRequest;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** Entry point of {@code ./diffinstruct}: subcommands, exit codes and one-line errors. */
@Command(name = "diffinstruct",
        mixinStandardHelpOptions = true,
        versionProvider = VersionInfo.class,
        description = "Distil diffusion models into one-step generators with Diff-Instruct, on libtorch.",
        subcommands = {
                DemoCommand.class,
                InspectCommand.class,
                DistillCommand.class,
                TrainTeacherCommand.class,
                ImportCommand.class,
                RefineCommand.class,
                SampleCommand.class,
                TeacherSampleCommand.class,
                EvalCommand.class,
                GridCommand.class,
                CompletionCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {
    /** Exit codes: 0 success, 1 failure during a run, 2 bad usage or bad input files. */
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    public static void main(String[] args) {
        Signals.install();
        int code = run(args);
        // a signal that came while the command finished its work: still report the stop
        if (StopRequest.requested() && code == EXIT_OK) {
            System.err.println("stopped by " + StopRequest.signal() + " after the command had finished its work");
            code = StopRequest.exitCode();
        }
        System.exit(code); // on the main thread, between native calls: nothing of libtorch is running
    }

    /** Runs the command line and returns the exit code (tests call this). */
    public static int run(String... args) {
        return execute(newCommandLine(), args);
    }

    /** Executes args on cl, first installing the defaults of a {@code --config} file when one is named. */
    static int execute(CommandLine cl, String... args) {
        // an empty value ("--teacher=" or --out "") would reach the commands as the current folder
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            boolean emptyInline = a.startsWith("--") && a.endsWith("=");
            boolean emptyNext = a.startsWith("--") && !a.contains("=") && i + 1 < args.length && args[i + 1].isEmpty();
            if (emptyInline || emptyNext) {
                String name = emptyInline ? a.substring(0, a.length() - 1) : a;
                cl.getErr().println(cl.getColorScheme().errorText("error: " + name + ": empty value"));
                cl.getErr().flush();
                return EXIT_USAGE;
            }
        }
        java.nio.file.Path config = ConfigFileDefaults.configArgument(args);
        if (config != null) {
            try {
                cl.setDefaultValueProvider(ConfigFileDefaults.read(config));
            } catch (InvalidInputException e) {
                cl.getErr().println(cl.getColorScheme().errorText("error: " + e.getMessage()));
                cl.getErr().flush();
                return EXIT_USAGE;
            }
        }
        return cl.execute(args);
    }

    public static CommandLine newCommandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExitCodeExceptionMapper(Main::exitCode);
        cl.setExecutionExceptionHandler(Main::handleExecutionException);
        cl.setParameterExceptionHandler(Main::handleParameterException);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        HelpLayout.apply(cl);
        return cl;
    }

    static int exitCode(Throwable t) {
        if (t instanceof StopRequest.Stopped) return StopRequest.exitCode();
        if (t instanceof InvalidInputException || t instanceof ModelFileException || t instanceof IllegalArgumentException)
            return EXIT_USAGE;
        return EXIT_FAILURE;
    }

    private static int handleParameterException(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText("error: " + ex.getMessage()));
        if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, err)) {
            err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        }
        return EXIT_USAGE;
    }

    private static int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText("error: " + oneLine(ex)));
        if (GlobalOptions.debug) ex.printStackTrace(err);
        err.flush();
        return exitCode(ex);
    }

    /** The message a user needs, on one line. */
    static String oneLine(Throwable ex) {
        if (ex instanceof TorchException te) return te.summary();
        if (ex instanceof java.io.UncheckedIOException u) {
            // new UncheckedIOException(e) says e.toString(), a Java class name: say what it means instead
            String m = u.getMessage();
            if (m == null || m.equals(String.valueOf(u.getCause()))) return IoErrors.describe(u.getCause());
        }
        if (ex instanceof java.io.IOException io) return IoErrors.describe(io);
        String m = ex.getMessage();
        if (m == null || m.isBlank()) return ex.getClass().getSimpleName();
        String first = m.strip().split("\n", 2)[0];
        return ex instanceof RuntimeException && !(ex instanceof InvalidInputException) && !(ex instanceof IllegalArgumentException)
                && !(ex instanceof IllegalStateException) && !(ex instanceof StopRequest.Stopped)
                && !(ex instanceof java.io.UncheckedIOException)
                ? ex.getClass().getSimpleName() + ": " + first : first;
    }
}
