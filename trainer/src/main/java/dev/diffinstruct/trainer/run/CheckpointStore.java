package dev.diffinstruct.trainer.run;

import dev.diffinstruct.torch.AtomicFiles;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.torch.TorchScriptFile;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.StopRequest;

import java.io.BufferedOutputStream;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The checkpoints of a run, in {@code OUT/checkpoints/ckpt-NNNNNNNNN.zip}: one uncompressed zip
 * per checkpoint holding named parts (TorchScript files, optimiser states, RNG states, JSON).
 *
 * <p>A checkpoint is written to a temporary file in the same folder, flushed to disk and renamed
 * into place ({@link AtomicFiles}), so a crash at any moment leaves the previous
 * checkpoints intact and never a partial file under a checkpoint's name. Temporary files a crash
 * left behind are ignored and cleared by the next write. Reading falls back to the previous
 * checkpoint if the newest cannot be read (e.g. a disk fault truncated it).
 */
public final class CheckpointStore {
    private static final Pattern NAME = Pattern.compile("ckpt-(\\d{9,})\\.zip");

    /** A checkpoint as read back: its step and its parts by name. */
    public record Checkpoint(long step, Path file, Map<String, byte[]> parts) {
        public byte[] part(String name) {
            byte[] b = parts.get(name);
            if (b == null) throw new InvalidInputException(file + " has no part '" + name + "' (damaged, or not this trainer's checkpoint)");
            return b;
        }
    }

    /** Test hook: called before each part is written; may throw to simulate a failure mid-write. */
    @FunctionalInterface
    public interface WriteHook {
        void beforePart(String name) throws IOException;
    }

    private final Path dir;
    private WriteHook hook = name -> {};

    public CheckpointStore(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** For tests only: simulates write failures (e.g. a full disk) part by part. */
    public void setWriteHook(WriteHook h) {
        this.hook = h;
    }

    public static String fileName(long step) {
        return String.format("ckpt-%09d.zip", step);
    }

    /** Writes the parts as the checkpoint of {@code step}, atomically, and keeps only the newest {@code keep}. */
    public Path write(long step, Map<String, byte[]> parts, int keep) {
        try {
            Files.createDirectories(dir);
            clearTemporaries();
            Path target = dir.resolve(fileName(step));
            AtomicFiles.write(target, tmp -> {
                try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20);
                     ZipOutputStream zip = new ZipOutputStream(os)) {
                    zip.setMethod(ZipOutputStream.STORED);
                    for (Map.Entry<String, byte[]> e : parts.entrySet()) {
                        hook.beforePart(e.getKey());
                        byte[] data = e.getValue();
                        ZipEntry ze = new ZipEntry(e.getKey());
                        CRC32 crc = new CRC32();
                        crc.update(data);
                        ze.setSize(data.length);
                        ze.setCompressedSize(data.length);
                        ze.setCrc(crc.getValue());
                        zip.putNextEntry(ze);
                        zip.write(data);
                        zip.closeEntry();
                    }
                }
            });
            prune(keep);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + step + " in " + dir + ": " + e.getMessage()
                    + " (the previous checkpoint is kept: fix the cause, e.g. free space, then --resume)", e);
        }
    }

    /** Checkpoint files, oldest first. */
    public List<Path> list() {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "ckpt-*.zip")) {
            for (Path p : ds) if (NAME.matcher(p.getFileName().toString()).matches()) out.add(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(Comparator.comparingLong(CheckpointStore::stepOf));
        return out;
    }

    public static long stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (!m.matches()) throw new IllegalArgumentException("not a checkpoint file: " + p);
        return Long.parseLong(m.group(1));
    }

    /**
     * The newest checkpoint that reads back whole (every part's CRC checked), or empty if there
     * is none; unreadable ones are reported to {@code warn} and skipped.
     */
    public Optional<Checkpoint> latest(Consumer<String> warn, String... required) {
        List<Path> files = list();
        for (int i = files.size() - 1; i >= 0; i--) {
            Path f = files.get(i);
            try {
                Checkpoint c = read(f);
                for (String part : required)
                    if (!c.parts().containsKey(part)) throw new IOException("no part " + part);
                for (Map.Entry<String, byte[]> e : c.parts().entrySet())
                    if (e.getKey().endsWith(".pt")) TorchScriptFile.check(e.getValue(), f.getFileName() + ":" + e.getKey());
                return Optional.of(c);
            } catch (IOException | RuntimeException e) {
                warn.accept("checkpoint " + f.getFileName() + " is unreadable (" + e.getMessage() + "); trying the one before");
            }
        }
        return Optional.empty();
    }

    /**
     * Resumes from {@code c} through {@code resume}: a part that passed its CRC but does not parse
     * (written by something else) becomes one line naming the checkpoint; bad input of the user's
     * own (e.g. a missing teacher file) and a stop request pass through unchanged.
     */
    public static <T> T resumeFrom(Checkpoint c, java.util.function.Function<Checkpoint, T> resume) {
        try {
            return resume.apply(c);
        } catch (InvalidInputException | StopRequest.Stopped e) {
            throw e;
        } catch (RuntimeException e) {
            throw new InvalidInputException(c.file() + " cannot be resumed (damaged?): "
                    + (e instanceof TorchException te ? te.summary() : e.toString()), e);
        }
    }

    public static Checkpoint read(Path f) throws IOException {
        Map<String, byte[]> parts = new LinkedHashMap<>();
        long size = Files.size(f);
        try (ZipFile z = new ZipFile(f.toFile())) {
            Enumeration<? extends ZipEntry> en = z.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                if (parts.containsKey(e.getName())) throw new IOException("duplicate entry " + e.getName());
                byte[] data = TorchScriptFile.readVerified(z, e, size); // size and CRC
                parts.put(e.getName(), data);
            }
        }
        return new Checkpoint(stepOf(f), f, parts);
    }

    private void prune(int keep) throws IOException {
        List<Path> files = list();
        for (int i = 0; i < files.size() - keep; i++) Files.deleteIfExists(files.get(i));
    }

    private void clearTemporaries() throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, ".ckpt-*.tmp")) {
            for (Path p : ds) Files.deleteIfExists(p);
        }
    }
}
