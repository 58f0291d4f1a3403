package dev.diffinstruct.trainer;

/**
 * Input the user can fix: a file of the wrong kind or shape, an option out of range, an
 * unwritable output folder. The CLI reports it in one line with exit code 2.
 */
public class InvalidInputException extends RuntimeException {
    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
