package dev.diffinstruct.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** #16 item 8: help that reads well at any width, one default style, examples never split. */
class HelpLayoutTest {
    private static List<CommandLine> all(CommandLine cl) {
        List<CommandLine> out = new ArrayList<>(List.of(cl));
        for (CommandLine sub : cl.getSubcommands().values()) out.addAll(all(sub));
        return out;
    }

    private static String usage(CommandLine cl, int width) {
        cl.setUsageHelpAutoWidth(false);
        cl.setUsageHelpWidth(width);
        return cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    @Test
    void everyCommandTakesTheTerminalWidth() {
        for (CommandLine cl : all(Main.newCommandLine())) assertTrue(cl.isUsageHelpAutoWidth(), cl.getCommandName());
    }

    @Test
    void descriptionsAreParagraphsAndExamplesFitEightyColumns() {
        for (CommandLine cl : all(Main.newCommandLine())) {
            for (String line : cl.getCommandSpec().usageMessage().description()) {
                String where = cl.getCommandSpec().qualifiedName() + ": " + line;
                line = line.replace("%n", "");
                if (line.isEmpty()) continue;
                if (line.startsWith("  ")) { // an example: picocli would wrap it only past the width
                    assertTrue(line.length() <= 80, "example longer than 80 columns: " + where);
                } else { // prose: one whole paragraph per entry, so picocli wraps it, never a break mid-sentence
                    assertTrue(line.endsWith(".") || line.endsWith(":") || line.endsWith(")"), "paragraph cut: " + where);
                }
            }
        }
    }

    @Test
    void commandListsGiveEachCommandsWholeHeader() {
        for (CommandLine cl : all(Main.newCommandLine())) {
            if (cl.getSubcommands().isEmpty()) continue;
            String list = usage(cl, 80);
            for (var e : cl.getSubcommands().entrySet()) {
                String[] header = e.getValue().getCommandSpec().usageMessage().header();
                String line = header.length > 0 ? header[0] : HelpLayout.firstSentence(e.getValue().getCommandSpec().usageMessage().description());
                assertTrue(line.endsWith(".") && line.length() <= 60, e.getKey() + ": a one-line summary of at most 60 characters: " + line);
                assertTrue(list.contains("  " + e.getKey() + " ") && list.contains(line + "\n"), e.getKey() + " row, unbroken at 80 columns, in:\n" + list);
            }
        }
    }

    @Test
    void oneDefaultStyleAndEveryDefaultShown() {
        for (CommandLine cl : all(Main.newCommandLine())) {
            String help = usage(cl, 120);
            assertFalse(help.contains("Default: "), cl.getCommandSpec().qualifiedName() + ":\n" + help);
            CommandSpec spec = cl.getCommandSpec();
            for (OptionSpec o : spec.options()) {
                if (o.usageHelp() || o.versionHelp()) continue;
                String d = o.defaultValue();
                if (d == null || d.isEmpty()) continue;
                String text = String.join(" ", o.description());
                assertTrue(text.contains("(default: ") || text.contains("default "), spec.qualifiedName() + " " + o.longestName() + ": default " + d + " not said: " + text);
            }
        }
    }

    @Test
    void firstSentence() {
        assertEquals("One.", HelpLayout.firstSentence(new String[] {"One. Two."}));
        assertEquals("No stop at all", HelpLayout.firstSentence(new String[] {"No stop at all"}));
        assertEquals("", HelpLayout.firstSentence(new String[0]));
    }
}
