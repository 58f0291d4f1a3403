package dev.diffinstruct.torch;

import java.nio.file.Path;

/** A TorchScript (or tensor) file that is missing, unreadable or not a valid file of its kind. */
public final class ModelFileException extends TorchException {
    private final Path path;

    public ModelFileException(Path path, String operation, String message) {
        super(operation, path + ": " + message);
        this.path = path;
    }

    public ModelFileException(Path path, String operation, String message, Throwable cause) {
        super(operation, path + ": " + message, cause);
        this.path = path;
    }

    public Path path() {
        return path;
    }
}
