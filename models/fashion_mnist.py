"""Reads Fashion-MNIST's gzipped IDX files (Debian's dataset-fashion-mnist) with gzip + numpy."""
import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def data_dir():
    return os.environ.get("FASHION_MNIST_DIR", DEFAULT_DIR)


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy uint8 array of its dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    if data[2] != 0x08:
        raise ValueError(f"{path}: IDX element type 0x{data[2]:02x} is not ubyte")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    n = int(np.prod(dims))
    body = data[4 + 4 * ndim:]
    if len(body) != n:
        raise ValueError(f"{path}: {len(body)} data bytes, dims {dims} need {n}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load(split="train", folder=None):
    """(images float32 [N,1,28,28] in [-1,1], labels int64 [N])."""
    folder = folder or data_dir()
    img_name, lab_name = FILES[split]
    images = read_idx(os.path.join(folder, img_name))
    labels = read_idx(os.path.join(folder, lab_name))
    x = images.astype(np.float32)[:, None, :, :] / 127.5 - 1.0
    return x, labels.astype(np.int64)
