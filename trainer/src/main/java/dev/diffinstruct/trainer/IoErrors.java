package dev.diffinstruct.trainer;

/** I/O failures said in words for users ("notes.txt: already exists"), not as Java's exception class names. */
public final class IoErrors {
    private IoErrors() {}

    /** An I/O failure in words: the file and what is wrong with it. */
    public static String describe(java.io.IOException e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            String file = f.getFile() == null ? "" : f.getFile() + ": ";
            String what = e instanceof java.nio.file.FileAlreadyExistsException ? "already exists"
                    : e instanceof java.nio.file.NoSuchFileException ? "no such file or folder"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : e instanceof java.nio.file.NotDirectoryException ? "not a folder"
                    : e instanceof java.nio.file.DirectoryNotEmptyException ? "folder not empty"
                    : f.getReason() != null ? f.getReason() : "cannot be used";
            return file + what;
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? "input/output error" : m.strip().split("\n", 2)[0];
    }
}
