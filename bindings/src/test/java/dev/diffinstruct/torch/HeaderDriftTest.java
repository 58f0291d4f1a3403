package dev.diffinstruct.torch;

import static dev.diffinstruct.torch.TestSupport.property;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** The generated bindings must come from the current native-shim/include/dishim.h. */
class HeaderDriftTest {
    private static final String FFI = "bindings/src/generated/java/dev/diffinstruct/torch/ffi";
    private static final Pattern FUNCTION = Pattern.compile("\\b(dt_[a-z0-9_]+)\\s*\\(");
    private static final Pattern CONSTANT = Pattern.compile("(?m)^#define\\s+(DT_[A-Z0-9_]+)\\s");

    static Path header() {
        Path h = Path.of(property("header.file", "native-shim/include/dishim.h"));
        assertTrue(Files.isRegularFile(h), "no header at " + h);
        return h;
    }

    /** The repository root: the header is at native-shim/include/dishim.h. */
    static Path root() {
        return header().toAbsolutePath().normalize().getParent().getParent().getParent();
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + p, e);
        }
    }

    static String sha256(Path p) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The header without comments, so that names mentioned in prose do not count. */
    static String declarations() {
        return read(header()).replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
    }

    static Set<String> matches(Pattern p, String text) {
        Set<String> out = new LinkedHashSet<>();
        Matcher m = p.matcher(text);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void generatedBindingsMatchTheHeader() {
        Path recorded = root().resolve(FFI).resolve("dishim.h.sha256");
        assertTrue(Files.exists(recorded), recorded + " is missing: run scripts/regen-bindings.sh");
        String expected = read(recorded).strip();
        String actual = sha256(header());
        assertEquals(expected, actual, "native-shim/include/dishim.h changed since the bindings were generated"
                + " (recorded SHA-256 " + expected + ", header " + actual + "): run scripts/regen-bindings.sh"
                + " and commit bindings/src/generated");
    }

    @Test
    void everyHeaderFunctionIsBound() {
        Set<String> declared = matches(FUNCTION, declarations());
        assertTrue(declared.size() > 100, "found only " + declared.size() + " functions in the header: is the parser broken?");
        String dishim = read(root().resolve(FFI).resolve("Dishim.java"));
        List<String> missing = new ArrayList<>();
        for (String f : declared)
            if (!Pattern.compile("public static \\S+ " + f + "\\(").matcher(dishim).find()) missing.add(f);
        assertTrue(missing.isEmpty(), "declared in dishim.h but not in the generated Dishim.java: " + missing
                + " (run scripts/regen-bindings.sh; if it still skips them, fix its function pattern)");
    }

    @Test
    void everyHeaderConstantIsBound() {
        Set<String> declared = matches(CONSTANT, declarations());
        assertTrue(declared.size() > 50, "found only " + declared.size() + " constants in the header");
        String dishim = read(root().resolve(FFI).resolve("Dishim.java"));
        List<String> missing = new ArrayList<>();
        for (String c : declared) if (!dishim.contains(" " + c + "()")) missing.add(c);
        assertTrue(missing.isEmpty(), "#define'd in dishim.h but not in Dishim.java: " + missing);
    }
}
