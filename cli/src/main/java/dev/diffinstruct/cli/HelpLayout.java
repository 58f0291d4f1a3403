package dev.diffinstruct.cli;

import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Column;
import picocli.CommandLine.Help.TextTable;

import java.util.Map;

/**
 * How help reads: as wide as the terminal (picocli's width detection, 80 columns where there is
 * none), and command lists that give each command's one-line header (or its description's first
 * sentence), not a paragraph cut at a line.
 */
final class HelpLayout {
    private HelpLayout() {}

    /** Applies the layout to cl and every command below it. */
    static void apply(CommandLine cl) {
        cl.setUsageHelpAutoWidth(true);
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST, HelpLayout::commandList);
        for (CommandLine sub : cl.getSubcommands().values()) apply(sub);
    }

    /** The first sentence of a description: up to the first ". " (or all of its first paragraph). */
    static String firstSentence(String[] description) {
        if (description == null || description.length == 0) return "";
        String p = description[0].strip();
        int end = p.indexOf(". ");
        return end < 0 ? p : p.substring(0, end + 1);
    }

    private static String commandList(Help help) {
        Map<String, Help> subs = help.subcommands();
        if (subs.isEmpty()) return "";
        int nameWidth = 0;
        for (String name : subs.keySet()) nameWidth = Math.max(nameWidth, name.length());
        int width = help.commandSpec().usageMessage().width();
        int first = nameWidth + 4; // two spaces of indent, the name, two spaces before the text
        TextTable table = TextTable.forColumns(help.colorScheme(),
                new Column(first, 2, Column.Overflow.SPAN),
                new Column(Math.max(20, width - first), 2, Column.Overflow.WRAP));
        for (Map.Entry<String, Help> e : subs.entrySet()) {
            CommandLine.Model.UsageMessageSpec usage = e.getValue().commandSpec().usageMessage();
            String[] text = usage.header().length > 0 ? usage.header() : usage.description();
            table.addRowValues(help.colorScheme().commandText(e.getKey()), help.colorScheme().text(firstSentence(text)));
        }
        return table.toString();
    }
}
