"""Stand-in for the parts of EDM's torch_utils.misc that pickled sources call at run time."""
import torch


def constant(value, shape=None, dtype=None, device=None, memory_format=None):
    t = torch.as_tensor(value, dtype=dtype, device=device)
    return t.broadcast_to(shape) if shape is not None else t


def const_like(ref, value, shape=None, dtype=None, device=None, memory_format=None):
    return constant(value, shape=shape, dtype=dtype or ref.dtype, device=device or ref.device)


def assert_shape(tensor, ref_shape):
    if tensor.ndim != len(ref_shape) or any(r is not None and int(s) != r for s, r in zip(tensor.shape, ref_shape)):
        raise AssertionError(f'wrong shape: got {list(tensor.shape)}, expected {list(ref_shape)}')
