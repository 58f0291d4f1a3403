package dev.diffinstruct.torch;

/**
 * A failure reported by libtorch (or refused by the shim before reaching it). Carries the name of
 * the operation that failed and libtorch's own message.
 */
public class TorchException extends RuntimeException {
    private final String operation;
    private final String nativeMessage;

    public TorchException(String operation, String nativeMessage) {
        super(operation + ": " + nativeMessage);
        this.operation = operation;
        this.nativeMessage = nativeMessage;
    }

    public TorchException(String operation, String nativeMessage, Throwable cause) {
        super(operation + ": " + nativeMessage, cause);
        this.operation = operation;
        this.nativeMessage = nativeMessage;
    }

    /** The operation that failed, e.g. {@code "matmul"} or {@code "Module.load"}. */
    public String operation() {
        return operation;
    }

    /** libtorch's message, possibly several lines (TorchScript errors quote source). */
    public String nativeMessage() {
        return nativeMessage;
    }

    /**
     * The first meaningful line of the message, for one-line error reports. A TorchScript
     * interpreter error opens with a fixed preamble and a traceback and ends with the cause
     * ("RuntimeError: ..."): its last line is the meaningful one.
     */
    public String summary() {
        String[] lines = nativeMessage.strip().split("\n");
        String first = lines[0].strip();
        if (first.isEmpty()) return operation + ": (no message)";
        if (first.startsWith("The following operation failed in the TorchScript interpreter"))
            return operation + ": " + lines[lines.length - 1].strip();
        return operation + ": " + first;
    }
}
