package dev.diffinstruct.torch;

import dev.diffinstruct.torch.ffi.Dishim;

/** Element types, with libtorch's codes (c10::ScalarType) and sizes in bytes. */
public enum DType {
    UINT8(Dishim.DT_UINT8(), 1),
    INT32(Dishim.DT_INT32(), 4),
    INT64(Dishim.DT_INT64(), 8),
    FLOAT16(Dishim.DT_FLOAT16(), 2),
    FLOAT32(Dishim.DT_FLOAT32(), 4),
    FLOAT64(Dishim.DT_FLOAT64(), 8),
    BOOL(Dishim.DT_BOOL(), 1),
    BFLOAT16(Dishim.DT_BFLOAT16(), 2);

    final int code;
    final int bytes;

    DType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    public int byteSize() {
        return bytes;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT16 || this == FLOAT32 || this == FLOAT64 || this == BFLOAT16;
    }

    static DType ofCode(int code) {
        for (DType d : values()) if (d.code == code) return d;
        throw new TorchException("dtype", "libtorch dtype code " + code + " is not supported here");
    }
}
