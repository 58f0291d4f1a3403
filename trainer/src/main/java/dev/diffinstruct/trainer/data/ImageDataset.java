package dev.diffinstruct.trainer.data;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.TorchException;
import dev.diffinstruct.trainer.InvalidInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Images as a float32 tensor {@code [N, C, H, W]} scaled to [-1, 1], with int64 class labels
 * {@code [N]} where the source has them. {@link #load(String)} reads:
 * <ul>
 *   <li>{@code fashion-mnist} (or {@code fashion-mnist:train}) and {@code fashion-mnist:test}: the
 *       IDX files of Debian's {@code dataset-fashion-mnist} in {@value #FASHION_MNIST_DEFAULT_DIR},
 *       or in the folder named by the environment variable {@code FASHION_MNIST_DIR};</li>
 *   <li>a folder of PNG files (grayscale or RGB, all the same size), unlabelled; or a folder of
 *       sub-folders of PNGs, labelled by sub-folder (classes in sorted name order);</li>
 *   <li>an {@code .npy} array {@code [N, C, H, W]} ({@code [N, H, W]} is read as C = 1): uint8
 *       0..255 is scaled to [-1, 1]; float32/float64 is taken as is after checking it lies in [-1, 1].</li>
 * </ul>
 * Pixel value v in 0..255 becomes {@code v / 127.5 - 1}, so 0 and 255 map to exactly -1 and 1.
 *
 * <p>Ownership: the tensors are made like any other result, so they belong to the {@link Scope}
 * open when {@code load} is called (or to the caller when none is); {@link #close()} frees them
 * early. Everything that is wrong with the input is an {@link InvalidInputException} naming the file.
 */
public final class ImageDataset implements AutoCloseable {
    public static final String FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
    public static final String FASHION_MNIST_ENV = "FASHION_MNIST_DIR";
    public static final List<String> FASHION_MNIST_CLASSES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    /** How far float input may stray outside [-1, 1] (rounding) before it is refused. */
    public static final double FLOAT_RANGE_TOLERANCE = 1e-3;

    private static final String SPECS = "fashion-mnist, fashion-mnist:test, a folder of PNGs or an .npy file [N, C, H, W]";

    private final Tensor images;
    private final Tensor labels;
    private final List<String> classNames;
    private final String source;

    /** Wraps existing tensors: images float32 [N, C, H, W], labels int64 [N] or null. */
    public ImageDataset(Tensor images, Tensor labels, List<String> classNames, String source) {
        long[] s = images.shape();
        if (s.length != 4) throw new IllegalArgumentException("images must be [N, C, H, W], got " + Arrays.toString(s));
        if (images.dtype() != DType.FLOAT32) throw new IllegalArgumentException("images must be float32, got " + images.dtype());
        if (labels != null) {
            if (labels.dim() != 1 || labels.size(0) != s[0])
                throw new IllegalArgumentException("labels must be [" + s[0] + "], got " + Arrays.toString(labels.shape()));
            if (labels.dtype() != DType.INT64) throw new IllegalArgumentException("labels must be int64, got " + labels.dtype());
        }
        this.images = images;
        this.labels = labels;
        this.classNames = classNames == null ? List.of() : List.copyOf(classNames);
        this.source = source;
    }

    // ---- accessors -------------------------------------------------------------------------------

    /** float32 [N, C, H, W] in [-1, 1]. */
    public Tensor images() {
        return images;
    }

    /** int64 [N] class indices, or null when the source has no labels. */
    public Tensor labels() {
        return labels;
    }

    public boolean hasLabels() {
        return labels != null;
    }

    /** Class names by index (empty when unlabelled). */
    public List<String> classNames() {
        return classNames;
    }

    /** Number of classes (0 when unlabelled). */
    public int numClasses() {
        return classNames.size();
    }

    /** What was loaded, e.g. {@code fashion-mnist:train (/usr/share/datasets/fashion-mnist)}. */
    public String source() {
        return source;
    }

    public long size() {
        return images.size(0);
    }

    public int channels() {
        return (int) images.size(1);
    }

    public int height() {
        return (int) images.size(2);
    }

    public int width() {
        return (int) images.size(3);
    }

    /** [C, H, W]. */
    public long[] imageShape() {
        long[] s = images.shape();
        return new long[] {s[1], s[2], s[3]};
    }

    /** A copy on {@code device} (same ownership rules as any result); this dataset is left as it is. */
    public ImageDataset to(Device device) {
        try (Scope sc = Scope.open()) {
            Tensor x = sc.keep(images.to(device));
            Tensor y = labels == null ? null : sc.keep(labels.to(device));
            return new ImageDataset(x, y, classNames, source);
        }
    }

    @Override
    public void close() {
        images.close();
        if (labels != null) labels.close();
    }

    @Override
    public String toString() {
        return source + ": " + size() + " images " + channels() + "x" + height() + "x" + width()
                + (hasLabels() ? ", " + numClasses() + " classes" : ", unlabelled");
    }

    // ---- loading ---------------------------------------------------------------------------------

    /** Loads a dataset from a spec: see the class comment. */
    public static ImageDataset load(String spec) {
        if (spec == null || spec.isBlank()) throw new InvalidInputException("no dataset given: use " + SPECS);
        String s = spec.strip();
        if (s.equals("fashion-mnist") || s.startsWith("fashion-mnist:")) {
            String split = s.equals("fashion-mnist") ? "train" : s.substring("fashion-mnist:".length());
            if (!split.equals("train") && !split.equals("test"))
                throw new InvalidInputException("unknown Fashion-MNIST split '" + split + "': use fashion-mnist (or fashion-mnist:train) or fashion-mnist:test");
            return fashionMnist(split, fashionMnistDir());
        }
        Path p = Path.of(s);
        if (Files.isDirectory(p)) return pngFolder(p);
        if (!Files.exists(p)) throw new InvalidInputException(p + ": no such file or folder (a dataset is " + SPECS + ")");
        if (p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy")) return npy(p);
        throw new InvalidInputException(p + ": not a dataset (a dataset is " + SPECS + ")");
    }

    /** The folder holding Fashion-MNIST: $FASHION_MNIST_DIR, else the Debian package's folder. */
    public static Path fashionMnistDir() {
        String env = System.getenv(FASHION_MNIST_ENV);
        return Path.of(env != null && !env.isBlank() ? env : FASHION_MNIST_DEFAULT_DIR);
    }

    /** One split ("train" or "test") of Fashion-MNIST from the IDX files in {@code dir}. */
    public static ImageDataset fashionMnist(String split, Path dir) {
        String prefix = switch (split) {
            case "train" -> "train";
            case "test" -> "t10k";
            default -> throw new IllegalArgumentException("split must be train or test, got " + split);
        };
        if (!Files.isDirectory(dir))
            throw new InvalidInputException(dir + ": Fashion-MNIST folder not found (install Debian's dataset-fashion-mnist or set "
                    + FASHION_MNIST_ENV + " to the folder with the IDX files)");
        Path imgFile = findIdx(dir, prefix + "-images", "idx3-ubyte");
        Path labFile = findIdx(dir, prefix + "-labels", "idx1-ubyte");
        IdxReader.Idx img = IdxReader.read(imgFile);
        IdxReader.Idx lab = IdxReader.read(labFile);
        if (img.dims().length != 3)
            throw new InvalidInputException(imgFile + ": expected images [N, H, W], the file has dims " + Arrays.toString(img.dims()));
        if (lab.dims().length != 1)
            throw new InvalidInputException(labFile + ": expected labels [N], the file has dims " + Arrays.toString(lab.dims()));
        if (lab.dims()[0] != img.dims()[0])
            throw new InvalidInputException(labFile + ": " + lab.dims()[0] + " labels for " + img.dims()[0] + " images in " + imgFile);
        int classes = FASHION_MNIST_CLASSES.size();
        for (int i = 0; i < lab.data().length; i++) {
            int v = lab.data()[i] & 0xff;
            if (v >= classes) throw new InvalidInputException(labFile + ": label " + v + " at index " + i + " is not a class 0.." + (classes - 1));
        }
        int[] d = img.dims();
        try (Scope sc = Scope.open()) {
            Tensor x = sc.keep(scaleBytes(img.data(), d[0], 1, d[1], d[2]));
            Tensor y = sc.keep(Tensor.of(lab.data(), lab.dims()[0]).to(DType.INT64));
            return new ImageDataset(x, y, FASHION_MNIST_CLASSES, "fashion-mnist:" + split + " (" + dir + ")");
        }
    }

    private static Path findIdx(Path dir, String stem, String kind) {
        // the usual names, plain or gzipped, and the dotted variant some mirrors use
        List<String> names = List.of(stem + "-" + kind + ".gz", stem + "-" + kind, stem + "." + kind + ".gz", stem + "." + kind);
        for (String n : names) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) return p;
        }
        throw new InvalidInputException(dir.resolve(names.get(0)) + ": Fashion-MNIST file not found (install Debian's dataset-fashion-mnist or set "
                + FASHION_MNIST_ENV + " to the folder with the IDX files)");
    }

    /** uint8 values in C order -> float32 [n, c, h, w] in [-1, 1]. */
    static Tensor scaleBytes(byte[] data, long... shape) {
        try (Scope sc = Scope.open()) {
            return sc.keep(Tensor.of(data, shape).to(DType.FLOAT32).div(127.5).sub(1.0));
        }
    }

    // ---- .npy --------------------------------------------------------------------------------------

    /** An .npy array [N, C, H, W] (or [N, H, W]): uint8 scaled to [-1, 1], float32/64 checked to lie in it. */
    public static ImageDataset npy(Path file) {
        try (Scope sc = Scope.open()) {
            Tensor a;
            try {
                a = Npy.read(file);
            } catch (TorchException e) {
                throw new InvalidInputException(e.getMessage().contains(file.toString()) ? e.getMessage() : file + ": " + e.getMessage(), e);
            }
            long[] s = a.shape();
            if (s.length == 3) {
                a = a.unsqueeze(1);
                s = a.shape();
            }
            if (s.length != 4)
                throw new InvalidInputException(file + ": expected images [N, C, H, W], the array is " + Arrays.toString(s));
            if (s[0] == 0) throw new InvalidInputException(file + ": holds no images (shape " + Arrays.toString(s) + ")");
            if (s[1] != 1 && s[1] != 3) {
                String hint = (s[3] == 1 || s[3] == 3) ? " (it looks like [N, H, W, C]: transpose it to [N, C, H, W])" : "";
                throw new InvalidInputException(file + ": images must have 1 or 3 channels in dim 1, the array is " + Arrays.toString(s) + hint);
            }
            Tensor x = switch (a.dtype()) {
                case UINT8 -> a.to(DType.FLOAT32).div(127.5).sub(1.0);
                case FLOAT32, FLOAT64 -> {
                    Tensor f = a.to(DType.FLOAT32);
                    if (!f.allFinite()) throw new InvalidInputException(file + ": holds NaN or infinite values");
                    double lo = f.min().item(), hi = f.max().item();
                    if (lo < -1 - FLOAT_RANGE_TOLERANCE || hi > 1 + FLOAT_RANGE_TOLERANCE) {
                        String hint = lo >= 0 && hi <= 1 + FLOAT_RANGE_TOLERANCE ? " (values in [0, 1]: map them with x * 2 - 1)"
                                : lo >= 0 && hi <= 255 ? " (values in [0, 255]: save them as uint8, or as x / 127.5 - 1)" : "";
                        throw new InvalidInputException(String.format(Locale.ROOT,
                                "%s: float images must lie in [-1, 1], found [%.4g, %.4g]%s", file, lo, hi, hint));
                    }
                    yield f.clamp(-1, 1);
                }
                default -> throw new InvalidInputException(file + ": images must be uint8 (0..255) or float32/float64 in [-1, 1], not " + a.dtype());
            };
            x = sc.keep(x.contiguous());
            return new ImageDataset(x, null, List.of(), file.toString());
        }
    }

    // ---- PNG folders ---------------------------------------------------------------------------

    /**
     * A folder of PNGs (unlabelled), or a folder of sub-folders of PNGs (labelled by sub-folder,
     * classes in sorted name order): {@link PngFolder}.
     */
    public static ImageDataset pngFolder(Path dir) {
        return PngFolder.load(dir);
    }
}
