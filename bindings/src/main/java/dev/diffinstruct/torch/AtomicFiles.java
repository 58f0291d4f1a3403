package dev.diffinstruct.torch;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Atomic file writes, shared by every writer of outputs: the content goes to a temporary file in
 * the target's folder, which is made rw-r--r--, flushed to disk and renamed over the target (then
 * the folder is flushed), so a crash leaves either the old file or the new one, never a partial
 * file under the target's name. The temporary file is deleted when writing it fails.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file to the path it is given (an existing, empty file). */
    @FunctionalInterface
    public interface IoWriter {
        void write(Path tmp) throws IOException;
    }

    /**
     * Has {@code writer} fill a temporary file {@code .NAME*.tmp} next to {@code target}, then
     * {@link #replace}s the target with it. Whatever {@code writer} throws propagates, with the
     * temporary file deleted.
     */
    public static void write(Path target, IoWriter writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        boolean done = false;
        try {
            writer.write(tmp);
            replace(tmp, abs);
            done = true;
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more
                }
            }
        }
    }

    /** Writes {@code text} as UTF-8, atomically (see {@link #write}). */
    public static void writeString(Path target, String text) throws IOException {
        write(target, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
    }

    /**
     * fsync(tmp), rename(tmp, target), fsync(folder); {@code tmp} must be in {@code target}'s folder.
     * The file is made rw-r--r-- first (temporary files are created private, 0600; what we publish
     * is readable like any output).
     */
    public static void replace(Path tmp, Path target) throws IOException {
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix"))
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + target + " cannot rename atomically", e);
        }
        try (FileChannel d = FileChannel.open(target.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // some file systems refuse to sync a folder; the rename itself has happened
        }
    }
}
