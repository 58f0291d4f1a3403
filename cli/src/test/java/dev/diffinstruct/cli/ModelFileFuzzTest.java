package dev.diffinstruct.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Damaged model files through inspect, distill, sample and --resume: truncations, byte flips,
 * removed, duplicated and renamed zip entries, and huge declared sizes, of a real teacher, a real
 * generator and a real checkpoint. Each run must end with exit 0 (the damage did not matter) or
 * exit 2 and one "error:" line; a JVM crash fails the whole test run. In-process, so a thousand
 * mutations take minutes: {@code -Dreliability.mutations=1000} (scripts/reliability.sh); the
 * default suite runs 24.
 */
class ModelFileFuzzTest {
    @TempDir
    static Path dir;
    static Path home = Path.of(System.getProperty("repo.root", "..")).toAbsolutePath();
    static byte[] teacher, generator;
    static Path run;
    static byte[] checkpoint;
    static String checkpointName;

    @BeforeAll
    static void files() throws IOException {
        teacher = Files.readAllBytes(home.resolve("assets/fashion-mnist/teacher.pt"));
        generator = Files.readAllBytes(home.resolve("assets/fashion-mnist/generator.pt"));
        run = dir.resolve("run");
        Cli r = Cli.run("distill", "--out", run.toString(), "--steps", "4", "--ckpt-every", "4", "--batch", "16", "--hidden", "16",
                "--warmup-fake", "2", "-q");
        assertEquals(0, r.exitCode(), r.err());
        Path c = run.resolve("checkpoints/ckpt-000000004.zip");
        checkpointName = c.getFileName().toString();
        checkpoint = Files.readAllBytes(c);
    }

    /** Outcomes per (file, command), for the README's table. */
    private final Map<String, int[]> tally = new TreeMap<>();

    private void check(String label, Cli r, String... args) {
        int[] t = tally.computeIfAbsent(label, k -> new int[2]);
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
        String what = label + " " + String.join(" ", args) + "\nexit " + r.exitCode() + "\n" + r.err();
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception in"), "a stack trace: " + what);
        if (r.exitCode() == 0) {
            t[0]++;
        } else {
            assertEquals(2, r.exitCode(), "a damaged file is bad input (exit 2): " + what);
            assertEquals(1, errors.size(), "one error line: " + what);
            t[1]++;
        }
    }

    @Test
    void damagedFilesAreOneLineErrors() throws IOException {
        int n = Integer.getInteger("reliability.mutations", 24);
        Random rnd = new Random(Long.getLong("reliability.seed", 7));
        Path f = dir.resolve("m.pt");
        for (int i = 0; i < n; i++) {
            int kind = i % 3;
            byte[] base = kind == 0 ? teacher : kind == 1 ? generator : checkpoint;
            Mutation m = mutate(base, rnd);
            if (kind == 0) {
                Files.write(f, m.bytes);
                check("teacher  " + m.name, Cli.run("inspect", f.toString()), "inspect");
                Path out = dir.resolve("d" + i);
                check("teacher  " + m.name, Cli.run("distill", "--teacher", f.toString(), "--data-shape", "1,28,28", "--steps", "1",
                        "--batch", "2", "--warmup-fake", "0", "--out", out.toString(), "-q"), "distill");
            } else if (kind == 1) {
                Files.write(f, m.bytes);
                check("generator " + m.name, Cli.run("inspect", f.toString()), "inspect");
                check("generator " + m.name, Cli.run("sample", "--generator", f.toString(), "--n", "3", "--out",
                        dir.resolve("s.npy").toString()), "sample");
            } else {
                // the run's only checkpoint, damaged: resume must fall back or refuse, in one line
                Path ckpts = run.resolve("checkpoints");
                try (var s = Files.list(ckpts)) {
                    for (Path p : s.toList()) Files.delete(p);
                }
                Files.write(ckpts.resolve(checkpointName), m.bytes);
                for (String out : new String[] {"generator.pt", "generator_ema.pt", "fake_score.pt", "metrics.jsonl"})
                    Files.deleteIfExists(run.resolve(out));
                check("checkpoint " + m.name, Cli.run("distill", "--out", run.toString(), "--resume", "--steps", "5", "--batch", "16",
                        "--hidden", "16", "--warmup-fake", "2", "-q"), "distill --resume");
            }
        }
        System.out.printf("ModelFileFuzzTest: %d mutations%n%-32s %6s %8s%n", n, "file and mutation", "exit 0", "exit 2");
        for (var e : tally.entrySet()) System.out.printf("%-32s %6d %8d%n", e.getKey(), e.getValue()[0], e.getValue()[1]);
    }

    record Mutation(String name, byte[] bytes) {}

    static Mutation mutate(byte[] base, Random rnd) throws IOException {
        switch (rnd.nextInt(6)) {
            case 0 -> {
                return new Mutation("truncated", java.util.Arrays.copyOf(base, rnd.nextInt(base.length)));
            }
            case 1 -> {
                byte[] b = base.clone();
                int flips = 1 + rnd.nextInt(8);
                for (int k = 0; k < flips; k++) b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
                return new Mutation("bytes flipped", b);
            }
            case 2, 3, 4 -> {
                Map<String, byte[]> entries = entries(base);
                List<String> names = new ArrayList<>(entries.keySet());
                String victim = names.get(rnd.nextInt(names.size()));
                List<Map.Entry<String, byte[]>> out = new ArrayList<>();
                int op = rnd.nextInt(3);
                for (var e : entries.entrySet()) {
                    if (!e.getKey().equals(victim)) out.add(e);
                    else if (op == 1) {
                        out.add(e);
                        out.add(Map.entry(e.getKey(), rnd.nextBoolean() ? e.getValue() : new byte[] {1, 2, 3}));
                    } else if (op == 2) {
                        out.add(Map.entry(e.getKey() + (rnd.nextBoolean() ? "x" : "/"), e.getValue()));
                    }
                }
                return new Mutation(new String[] {"entry removed", "entry duplicated", "entry renamed"}[op], zip(out));
            }
            default -> {
                return new Mutation("huge declared size", hugeSize(base, rnd));
            }
        }
    }

    static Map<String, byte[]> entries(byte[] zip) throws IOException {
        Path tmp = Files.createTempFile(dir, "z", ".zip");
        Files.write(tmp, zip);
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipFile z = new ZipFile(tmp.toFile())) {
            var en = z.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                out.put(e.getName(), z.getInputStream(e).readAllBytes());
            }
        }
        Files.delete(tmp);
        return out;
    }

    /** A stored (uncompressed) zip of the entries as given, duplicates included, with correct CRCs. */
    static byte[] zip(List<Map.Entry<String, byte[]>> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), central = new ByteArrayOutputStream();
        for (var e : entries) {
            byte[] name = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8), data = e.getValue();
            CRC32 crc = new CRC32();
            crc.update(data);
            int offset = out.size();
            ByteBuffer h = ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(data.length).putInt(data.length).putShort((short) name.length).putShort((short) 0);
            out.writeBytes(h.array());
            out.writeBytes(name);
            out.writeBytes(data);
            ByteBuffer c = ByteBuffer.allocate(46).order(ByteOrder.LITTLE_ENDIAN);
            c.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(data.length).putInt(data.length).putShort((short) name.length)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0).putInt(offset);
            central.writeBytes(c.array());
            central.writeBytes(name);
        }
        int cdOffset = out.size();
        out.writeBytes(central.toByteArray());
        ByteBuffer end = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
        end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) entries.size()).putShort((short) entries.size())
                .putInt(central.size()).putInt(cdOffset).putShort((short) 0);
        out.writeBytes(end.array());
        return out.toByteArray();
    }

    /** One central-directory (or local) header's sizes set to about 2 or 4 GiB. */
    static byte[] hugeSize(byte[] base, Random rnd) {
        byte[] b = base.clone();
        boolean central = rnd.nextBoolean();
        int sig = central ? 0x02014b50 : 0x04034b50, at = central ? 20 : 18;
        List<Integer> headers = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 4 <= b.length; i++) if (buf.getInt(i) == sig) headers.add(i);
        if (headers.isEmpty()) return b;
        int h = headers.get(rnd.nextInt(headers.size()));
        int huge = rnd.nextBoolean() ? 0x7fffffff : 0xfffffff0;
        if (h + at + 8 <= b.length) {
            buf.putInt(h + at, huge);     // compressed size
            buf.putInt(h + at + 4, huge); // uncompressed size
        }
        return b;
    }
}
