package dev.diffinstruct.torch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * What can be checked of a TorchScript file before libtorch reads it. The file is a zip archive
 * (one folder holding data.pkl, constants.pkl, version, code/ and data/); a truncated or bit-flipped
 * file must be one clear error here, not whatever libtorch's reader makes of it. What passes is
 * still code: TorchScript runs the archive's methods, so only load files you trust.
 */
public final class TorchScriptFile {
    private TorchScriptFile() {}

    /** Checks a file: readable zip, every entry whole (size and CRC), one folder with the records TorchScript needs. */
    public static void check(Path path) {
        long fileSize;
        try {
            fileSize = Files.size(path);
        } catch (IOException e) {
            throw new ModelFileException(path, "Module.load", "cannot read: " + e.getMessage(), e);
        }
        Records records = new Records();
        try (ZipFile z = new ZipFile(path.toFile())) {
            var en = z.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                records.add(e.getName());
                try (InputStream in = z.getInputStream(e)) {
                    verify(e, in, fileSize);
                }
            }
        } catch (ZipException e) {
            throw new ModelFileException(path, "Module.load", "not a valid TorchScript file (a TorchScript file is a zip archive; this one is unreadable: "
                    + e.getMessage() + ")", e);
        } catch (IOException | IllegalStateException e) {
            throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: " + e.getMessage(), e);
        }
        records.require(path);
    }

    /**
     * As {@link #check(Path)}, for the bytes of a TorchScript file (e.g. a checkpoint's part) named
     * {@code name}. Read through the central directory, as ZipFile reads files: libtorch's writer
     * stores entries with data descriptors, which java.util.zip.ZipInputStream refuses.
     */
    public static void check(byte[] data, String name) {
        Path path = Path.of(name);
        if (data.length == 0) throw new ModelFileException(path, "Module.load", "empty module data");
        Records records = new Records();
        try {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            int end = -1;
            for (int i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--)
                if (b.getInt(i) == 0x06054b50) {
                    end = i;
                    break;
                }
            if (end < 0) throw new ZipException("no zip end record (truncated, or not a zip archive)");
            int count = Short.toUnsignedInt(b.getShort(end + 10));
            long cd = Integer.toUnsignedLong(b.getInt(end + 16));
            for (int k = 0, at = (int) Math.min(cd, data.length); k < count; k++) {
                if (at + 46 > data.length || b.getInt(at) != 0x02014b50) throw new ZipException("damaged central directory");
                long crc = Integer.toUnsignedLong(b.getInt(at + 16));
                long size = Integer.toUnsignedLong(b.getInt(at + 24));
                int n = Short.toUnsignedInt(b.getShort(at + 28)), extra = Short.toUnsignedInt(b.getShort(at + 30)),
                        comment = Short.toUnsignedInt(b.getShort(at + 32));
                long local = Integer.toUnsignedLong(b.getInt(at + 42));
                if (at + 46 + n > data.length) throw new ZipException("damaged central directory");
                String entry = new String(data, at + 46, n, java.nio.charset.StandardCharsets.UTF_8);
                records.add(entry);
                int method = Short.toUnsignedInt(b.getShort(at + 10));
                long packed = Integer.toUnsignedLong(b.getInt(at + 20));
                if (local + 30 > data.length || b.getInt((int) local) != 0x04034b50) throw new ZipException("entry " + entry + ": damaged local header");
                long start = local + 30 + Short.toUnsignedInt(b.getShort((int) local + 26)) + Short.toUnsignedInt(b.getShort((int) local + 28));
                if (packed > data.length || start + packed > data.length || size > maxExpanded(method, packed, data.length))
                    throw new ZipException("entry " + entry + " declares " + Math.max(packed, size) + " bytes, more than the archive can hold");
                byte[] plain = entryBytes(data, (int) start, (int) packed, (int) size, method, entry);
                CRC32 c = new CRC32();
                c.update(plain);
                if (c.getValue() != crc) throw new ZipException("entry " + entry + " is damaged (CRC mismatch)");
                at += 46 + n + extra + comment;
            }
        } catch (IOException | IllegalStateException | IndexOutOfBoundsException e) {
            throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: " + e.getMessage(), e);
        }
        records.require(path);
    }

    /** The plain bytes of one entry of {@code data}: stored, or deflated (TorchScript's code records). */
    private static byte[] entryBytes(byte[] data, int start, int packed, int size, int method, String entry) throws ZipException {
        if (method == ZipEntry.STORED) {
            if (packed != size) throw new ZipException("entry " + entry + ": sizes disagree");
            return java.util.Arrays.copyOfRange(data, start, start + size);
        }
        if (method != ZipEntry.DEFLATED)
            throw new ZipException("entry " + entry + " uses compression method " + method + ", which TorchScript does not write");
        java.util.zip.Inflater inf = new java.util.zip.Inflater(true);
        try {
            inf.setInput(data, start, packed);
            byte[] plain = new byte[size];
            int got = 0;
            while (got < size && !inf.finished()) {
                int r = inf.inflate(plain, got, size - got);
                if (r == 0 && (inf.needsInput() || inf.needsDictionary())) break;
                got += r;
            }
            if (got != size) throw new ZipException("entry " + entry + " is damaged (inflates to " + got + " of " + size + " bytes)");
            return plain;
        } catch (java.util.zip.DataFormatException e) {
            throw new ZipException("entry " + entry + " is damaged (" + e.getMessage() + ")");
        } finally {
            inf.end();
        }
    }

    /**
     * Reads one entry whole and checks it against its declared size and CRC (java.util.zip.ZipFile
     * checks neither for stored entries, which is how TorchScript and our checkpoints store them).
     * {@code fileSize}: the size of the zip file, which bounds what an entry can hold.
     */
    public static byte[] readVerified(ZipFile z, ZipEntry e, long fileSize) throws IOException {
        try (InputStream in = z.getInputStream(e)) {
            return verify(e, in, fileSize);
        }
    }

    /** The most bytes an entry of {@code packed} stored bytes can expand to (deflate's ratio is at most 1032:1). */
    private static long maxExpanded(int method, long packed, long fileSize) {
        return method == ZipEntry.STORED ? Math.min(packed, fileSize) : Math.min(packed * 1032 + 1024, Integer.MAX_VALUE - 16);
    }

    private static byte[] verify(ZipEntry e, InputStream in, long fileSize) throws IOException {
        long declared = e.getSize(), packed = e.getCompressedSize();
        long limit = maxExpanded(e.getMethod(), packed < 0 ? fileSize : packed, fileSize);
        if (packed > fileSize || declared > limit)
            throw new ZipException("entry " + e.getName() + " declares " + Math.max(declared, packed) + " bytes, more than the whole file ("
                    + fileSize + " bytes) can hold");
        byte[] data = in.readNBytes((int) limit + 1);
        if (declared >= 0 && data.length != declared)
            throw new ZipException("entry " + e.getName() + " holds " + data.length + " bytes, not the " + declared + " it declares (truncated or damaged)");
        if (data.length > limit) throw new ZipException("entry " + e.getName() + " is larger than the whole file can hold");
        CRC32 crc = new CRC32();
        crc.update(data);
        if (e.getCrc() != -1 && crc.getValue() != e.getCrc())
            throw new ZipException("entry " + e.getName() + " is damaged (CRC mismatch)");
        return data;
    }

    /** Entry names: no duplicates, one top folder, and the records a TorchScript module needs. */
    private static final class Records {
        private final Set<String> names = new HashSet<>();
        private String folder;

        void add(String name) {
            if (!names.add(name)) throw new IllegalStateException("duplicate entry " + name);
            int slash = name.indexOf('/');
            String top = slash < 0 ? "" : name.substring(0, slash);
            if (folder == null) folder = top;
            else if (!folder.equals(top)) throw new IllegalStateException("entry " + name + " lies outside the archive's folder " + folder + "/");
        }

        void require(Path path) {
            if (names.isEmpty()) throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: an empty zip archive");
            String p = folder + "/";
            for (String r : new String[] {"data.pkl", "constants.pkl"})
                if (!names.contains(p + r))
                    throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: it lacks " + p + r
                            + (r.equals("constants.pkl") && names.contains(p + "data.pkl") ? " (a tensor file from torch.save? TorchScript files come from torch.jit.save)" : ""));
            if (!names.contains(p + "version") && !names.contains(p + ".data/version"))
                throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: it lacks " + p + "version");
            if (names.stream().noneMatch(n -> n.startsWith(p + "code/")))
                throw new ModelFileException(path, "Module.load", "not a valid TorchScript file: it has no code/ records");
        }
    }
}
