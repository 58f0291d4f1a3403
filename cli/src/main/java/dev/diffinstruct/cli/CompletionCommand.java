package dev.diffinstruct.cli;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code completion bash|zsh}: a shell completion script for every command and option (picocli's AutoComplete). */
@Command(name = "completion", header = "Print a bash or zsh completion script.", mixinStandardHelpOptions = true,
        description = {"Print a completion script for bash or zsh: every command, option and enum value.", "",
                "Examples:",
                "  source <(./diffinstruct completion bash)",
                "  ./diffinstruct completion zsh > ~/.zfunc/_diffinstruct"})
final class CompletionCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SHELL", description = "bash or zsh (zsh reads the bash script through bashcompinit).")
    String shell;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        String s = shell.toLowerCase(java.util.Locale.ROOT);
        if (!s.equals("bash") && !s.equals("zsh")) throw new IllegalArgumentException("completion: SHELL must be bash or zsh, got '" + shell + "'");
        String script = AutoComplete.bash("diffinstruct", spec.root().commandLine());
        // picocli's script starts zsh's bashcompinit itself when run by zsh; zsh users source it the same way
        spec.commandLine().getOut().print(script);
        spec.commandLine().getOut().flush();
        return Main.EXIT_OK;
    }
}
