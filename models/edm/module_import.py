"""``import module``: any Python ``nn.Module`` (guided-diffusion, score_sde, own research code) or a
TorchScript file, with its weights, as the raw network of a teacher kind.

The network is wrapped so that its forward has the signature the kind needs (``Raw``/``RawCond``)
and scripted (or traced with ``--trace``); the Java side then puts the EDM view around it
(``Teachers.asDenoiser``), so VP and DDPM schedules live in one place. The check compares the
scripted network with the eager one on the kind's own inputs: ``edm`` (x, sigma 0.002..80),
``vp-eps`` (x, t in (0, 1] times --time-scale), ``ddpm-*`` (x, int64 steps over the table).
"""
import importlib
import importlib.util
import json
import os
import struct
import sys
import time
import zipfile

import torch
from torch import nn

from import_common import SIGMAS, InputError, check_inputs, compare, load_into, run, say, script, write_check

# where training code keeps the weights inside a checkpoint dict, most specific first
WEIGHT_KEYS = ('ema', 'model_ema', 'ema_model', 'params_ema', 'state_dict', 'model', 'net', 'params')
SAFETENSORS_DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
                      'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
                      'U8': torch.uint8, 'BOOL': torch.bool}


class Raw(nn.Module):
    """forward(x, t) of the kind, around the user's network."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, t):
        return self.net(x, t)


class RawCond(nn.Module):
    """forward(x, t, class_labels one-hot); index_labels: the network takes int64 labels (guided-diffusion's y)."""

    def __init__(self, net, index_labels: bool):
        super().__init__()
        self.net = net
        self.index_labels = index_labels

    def forward(self, x, t, class_labels):
        if self.index_labels:
            return self.net(x, t, class_labels.argmax(dim=1))
        return self.net(x, t, class_labels)


def build_module(spec, kwargs, paths):
    """pkg.mod:Factory or path/to/file.py:Factory, called with kwargs."""
    if ':' not in spec:
        raise InputError(f'--module {spec}: expected pkg.mod:Factory or file.py:Factory')
    where, name = spec.rsplit(':', 1)
    for p in reversed(paths + [os.getcwd()]):
        sys.path.insert(0, os.path.abspath(p))
    try:
        if where.endswith('.py'):
            s = importlib.util.spec_from_file_location(os.path.basename(where)[:-3], where)
            if s is None or not os.path.isfile(where):
                raise InputError(f'--module {where}: no such file')
            mod = importlib.util.module_from_spec(s)
            s.loader.exec_module(mod)
        else:
            mod = importlib.import_module(where)
    except ImportError as e:
        raise InputError(f'--module {where} cannot be imported ({e}); add its folder with --path')
    factory = getattr(mod, name, None)
    if not callable(factory):
        raise InputError(f'--module {spec}: {where} has no callable {name}')
    try:
        net = factory(**kwargs)
    except TypeError as e:
        raise InputError(f'--module {spec}: {name}(**{json.dumps(kwargs)}) failed: {e}')
    if not isinstance(net, nn.Module):
        raise InputError(f'--module {spec}: {name} returned a {type(net).__name__}, not a torch.nn.Module')
    return net


def read_safetensors(path):
    """The safetensors format: 8-byte little-endian header size, a JSON header, raw little-endian data."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise InputError(f'--weights {path}: too short for a safetensors file')
    n = struct.unpack('<Q', raw[:8])[0]
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError:
        raise InputError(f'--weights {path}: not a safetensors file (no JSON header)')
    data, out = raw[8 + n:], {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        dtype = SAFETENSORS_DTYPES.get(v.get('dtype'))
        if dtype is None:
            raise InputError(f'--weights {path}: tensor {k} has dtype {v.get("dtype")}, which this reader does not know')
        a, b = v['data_offsets']
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.uint8) if b > a else torch.empty(0, dtype=torch.uint8)
        out[k] = t.view(dtype).reshape(v['shape']).clone()
    return out


def read_weights(path, key):
    if path.endswith('.safetensors'):
        obj = read_safetensors(path)
    else:
        try:  # tensors and plain containers only: a weights file runs no code
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except FileNotFoundError:
            raise InputError(f'--weights {path}: no such file')
        except Exception as e:
            raise InputError(f'--weights {path}: not a plain tensor file ({str(e).strip().splitlines()[0][:200]})')
    keys = [key] if key else WEIGHT_KEYS
    while isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        found = next((k for k in keys if isinstance(obj.get(k), dict)), None)
        if found is None:
            raise InputError(f'--weights {path}: a dict without tensors at the top and no '
                             f'{"--weights-key " + key if key else "entry " + "/".join(WEIGHT_KEYS)} '
                             f'(it has {", ".join(map(str, list(obj)[:8]))}); name one with --weights-key')
        say(f'weights: entry {found!r} of {path}')
        obj, keys = obj[found], WEIGHT_KEYS
    if not isinstance(obj, dict):
        raise InputError(f'--weights {path}: holds a {type(obj).__name__}, not a state dict')
    for prefix in ('module.', '_orig_mod.'):  # DistributedDataParallel and torch.compile wrappers
        if obj and all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def kind_inputs(kind, shape, classes, time_scale, steps, batch=len(SIGMAS)):
    """The check's inputs on the kind's own time axis (the x of the EDM check, rescaled for VP kinds)."""
    x, sigma, labels = check_inputs(shape, classes, batch)
    if kind == 'edm':
        return x, sigma, labels
    x = x / (1 + sigma.reshape(-1, *([1] * len(shape))) ** 2).sqrt()  # VP: x_t = x / sqrt(1 + sigma^2)
    if kind == 'vp-eps':
        return x, torch.linspace(1e-3, 1, batch) * time_scale, labels
    return x, torch.linspace(0, steps - 1, batch).round().long(), labels


def import_module(a):
    t0 = time.time()
    shape = [int(d) for d in a.shape.split(',')] if a.shape else None
    if a.module.endswith('.pt') and os.path.isfile(a.module) and zipfile.is_zipfile(a.module):
        if a.weights:
            raise InputError('--weights: a TorchScript --module holds its weights already')
        try:
            wrapped = torch.jit.load(a.module, map_location='cpu').eval()
        except Exception as e:
            raise InputError(f'--module {a.module}: not a TorchScript file ({str(e).strip().splitlines()[0][:200]})')
        reference, scripted = wrapped, wrapped
        if shape is None and hasattr(wrapped, 'data_shape'):
            shape = [int(d) for d in wrapped.data_shape]
        for attr in ('num_classes', 'label_dim'):  # a conditional file says so itself (the tool's own teachers do)
            if a.classes == 0 and int(getattr(wrapped, attr, 0) or 0) > 0:
                a.classes = int(getattr(wrapped, attr))
                say(f'{a.module}: class-conditional ({attr} {a.classes})')
        say(f'{a.module}: TorchScript; the check compares it on this Python\'s torch with the Java side\'s LibTorch')
    else:
        try:
            kwargs = json.loads(a.kwargs) if a.kwargs else {}
        except ValueError as e:
            raise InputError(f'--kwargs {a.kwargs}: not JSON ({e})')
        if not isinstance(kwargs, dict):
            raise InputError(f'--kwargs {a.kwargs}: must be a JSON object, e.g. {{"channels": 64}}')
        net = build_module(a.module, kwargs, a.path)
        if a.weights:
            load_into(net, read_weights(a.weights, a.weights_key), a.module)
        else:
            say('no --weights: the network keeps the weights its factory gave it')
        net = net.eval()
        reference = (RawCond(net, a.labels == 'index') if a.classes else Raw(net)).eval()
        wrapped = reference
        if shape is None:
            raise InputError('--shape C,H,W is required (the data shape the network takes)')
    if shape is None or any(d <= 0 for d in shape):
        raise InputError('--shape C,H,W is required (the data shape the network takes)')
    inputs = kind_inputs(a.kind, shape, a.classes, a.time_scale, a.ddpm_steps)
    if reference is wrapped and not isinstance(wrapped, torch.jit.ScriptModule):
        wrapped.data_shape, wrapped.num_classes = shape, a.classes
        if a.trace:
            example = tuple(t[:2] for t in inputs if t is not None)
            with torch.no_grad():
                scripted = torch.jit.trace(wrapped, example, check_trace=False)
        else:
            scripted = script(wrapped)
    n_params = sum(p.numel() for p in scripted.parameters())
    with torch.no_grad():
        try:
            expected = run(reference, inputs)
            got = run(scripted, inputs)
        except Exception as e:
            raise InputError(f'the network cannot be called as --kind {a.kind} with --classes {a.classes} on '
                             f'{len(SIGMAS)} inputs of shape {shape} ({type(e).__name__}: {str(e).strip().splitlines()[0][:200]})')
    if not isinstance(expected, torch.Tensor) or expected.shape != inputs[0].shape:
        raise InputError(f'the network returns {getattr(expected, "shape", type(expected).__name__)}, '
                         f'the kind needs a tensor shaped like its input {list(inputs[0].shape)}')
    err = compare(expected, got)
    say(f'check: {len(SIGMAS)} inputs on the {a.kind} time axis: max |script - eager| / max(1, max |out|) = '
        f'{err:.2e} (tolerance {a.tolerance:g})')
    if not err <= a.tolerance:
        raise InputError(f'the TorchScript network disagrees with the eager one: {err:.2e} > tolerance {a.tolerance:g}')
    os.makedirs(a.work, exist_ok=True)
    try:
        scripted.save(os.path.join(a.work, 'teacher.pt'))
    except RuntimeError as e:  # e.g. an unannotated `y=None` argument: a Tensor default TorchScript cannot write
        raise InputError(f'TorchScript cannot save the network ({str(e).strip().splitlines()[0][:200]}); '
                         + ('annotate Optional arguments as Optional[Tensor]' if a.trace else 'try --trace'))
    write_check(a.work, inputs, expected)
    return dict(kind=a.kind, module=a.module, parameters=n_params, data_shape=shape, label_dim=a.classes,
                error=err, tolerance=a.tolerance, reference='eager' if reference is not scripted else 'torchscript',
                traced=bool(a.trace), seconds=time.time() - t0)
