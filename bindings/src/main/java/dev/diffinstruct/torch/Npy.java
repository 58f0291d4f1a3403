package dev.diffinstruct.torch;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** NumPy's .npy format (C order, little-endian): read into tensors and written from them. */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {}

    /** Reads an .npy file into a CPU tensor of the file's dtype. */
    public static Tensor read(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (all.byteSize() < 10) throw bad(path, "too short for an .npy file");
            for (int i = 0; i < MAGIC.length; i++)
                if (all.get(ValueLayout.JAVA_BYTE, i) != MAGIC[i]) throw bad(path, "not an .npy file (bad magic)");
            int major = all.get(ValueLayout.JAVA_BYTE, 6);
            long headerLen;
            long offset;
            if (major == 1) {
                headerLen = Short.toUnsignedInt(all.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
                offset = 10;
            } else if (major == 2 || major == 3) {
                headerLen = Integer.toUnsignedLong(all.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
                offset = 12;
            } else {
                throw bad(path, "unsupported .npy version " + major);
            }
            if (offset + headerLen > all.byteSize()) throw bad(path, "truncated header");
            String header = new String(all.asSlice(offset, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
            Matcher d = DESCR.matcher(header), f = FORTRAN.matcher(header), s = SHAPE.matcher(header);
            if (!d.find() || !f.find() || !s.find()) throw bad(path, "malformed header: " + header.strip());
            if (f.group(1).equals("True")) throw bad(path, "Fortran-order arrays are not supported (save with np.ascontiguousarray)");
            DType dtype = switch (d.group(1)) {
                case "<f4" -> DType.FLOAT32;
                case "<f8" -> DType.FLOAT64;
                case "<i8" -> DType.INT64;
                case "<i4" -> DType.INT32;
                case "|u1", "<u1" -> DType.UINT8;
                case "|b1" -> DType.BOOL;
                default -> throw bad(path, "unsupported dtype '" + d.group(1) + "' (use float32, float64, int64, int32, uint8 or bool)");
            };
            List<Long> dims = new ArrayList<>();
            for (String part : s.group(1).split(",")) {
                if (!part.isBlank()) dims.add(Long.parseLong(part.strip()));
            }
            long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
            long numel = 1;
            for (long x : shape) numel = Math.multiplyExact(numel, x);
            long bytes = numel * dtype.bytes;
            long dataStart = offset + headerLen;
            if (all.byteSize() - dataStart != bytes)
                throw bad(path, "holds " + (all.byteSize() - dataStart) + " data bytes, but its header says " + bytes);
            return Tensor.fromData(all.asSlice(dataStart, bytes), dtype, shape, Device.CPU);
        } catch (IOException e) {
            throw new ModelFileException(path, "Npy.read", e.toString(), e);
        }
    }

    private static ModelFileException bad(Path path, String why) {
        return new ModelFileException(path, "Npy.read", why);
    }

    /** Writes t as .npy in its own dtype (float16/bfloat16 as float32), atomically. */
    public static void write(Path path, Tensor t) {
        DType dt = switch (t.dtype()) {
            case FLOAT16, BFLOAT16 -> DType.FLOAT32;
            default -> t.dtype();
        };
        String descr = switch (dt) {
            case FLOAT32 -> "<f4";
            case FLOAT64 -> "<f8";
            case INT64 -> "<i8";
            case INT32 -> "<i4";
            case UINT8 -> "|u1";
            case BOOL -> "|b1";
            default -> throw new IllegalStateException();
        };
        long[] shape = t.shape();
        StringBuilder sh = new StringBuilder();
        for (long x : shape) sh.append(x).append(", ");
        if (shape.length > 1) sh.setLength(sh.length() - 2);
        else if (shape.length == 1) sh.setLength(sh.length() - 1);
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + sh + "), }";
        int total = MAGIC.length + 4 + dict.length() + 1;
        int pad = (64 - total % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        try {
            AtomicFiles.write(path, tmp -> {
                long dataBytes = t.numel() * dt.bytes;
                try (Arena arena = Arena.ofConfined();
                     FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
                    long headerBytes = 10 + header.length();
                    MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, headerBytes + dataBytes, arena);
                    MemorySegment.copy(MAGIC, 0, seg, ValueLayout.JAVA_BYTE, 0, MAGIC.length);
                    seg.set(ValueLayout.JAVA_BYTE, 6, (byte) 1);
                    seg.set(ValueLayout.JAVA_BYTE, 7, (byte) 0);
                    seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8, (short) header.length());
                    byte[] hb = header.getBytes(StandardCharsets.ISO_8859_1);
                    MemorySegment.copy(hb, 0, seg, ValueLayout.JAVA_BYTE, 10, hb.length);
                    if (dataBytes > 0) t.copyTo(seg.asSlice(headerBytes, dataBytes), dt);
                }
            });
        } catch (IOException e) {
            throw new TorchException("Npy.write", path + ": " + e, e);
        }
    }
}
