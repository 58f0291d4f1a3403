"""What both import paths share: the error type, the check inputs and the comparison."""
import os
import sys

import numpy as np
import torch

SIGMAS = [0.002, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0, 80.0]


class InputError(Exception):
    pass


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def load_into(module, tensors, what, placeholder_u=False):
    own = module.state_dict()
    if placeholder_u:
        tensors = dict(tensors, u=own['u'])
    missing = [k for k in own if k not in tensors]
    unexpected = [k for k in tensors if k not in own]
    if missing or unexpected:
        parts = [f'{word} {len(names)}: {", ".join(names[:3])}{", ..." if len(names) > 3 else ""}'
                 for word, names in (('missing', missing), ('unexpected', unexpected)) if names]
        raise InputError(f'its {what} parameters do not match the architecture its arguments describe '
                         f'({"; ".join(parts)})')
    for k, v in own.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise InputError(f'its parameter {k} has shape {list(tensors[k].shape)}, the architecture needs {list(v.shape)}')
    module.load_state_dict({k: tensors[k].float() for k in own})


def check_inputs(shape, label_dim, batch=len(SIGMAS), seed=0):
    """Noisy images y + sigma n at sigma 0.002..80, y uniform in [-1, 1], labels cycling over classes."""
    g = torch.Generator().manual_seed(seed)
    sigma = torch.tensor(SIGMAS[:batch] if batch <= len(SIGMAS) else (SIGMAS * batch)[:batch], dtype=torch.float32)
    y = torch.rand([batch] + list(shape), generator=g) * 2 - 1
    x = y + sigma.reshape(-1, *([1] * len(shape))) * torch.randn([batch] + list(shape), generator=g)
    labels = torch.eye(label_dim)[torch.arange(batch) % label_dim] if label_dim else None
    return x, sigma, labels


def compare(expected, got):
    """max |got - expected| relative to max(1, max |expected|): the figure the tolerance bounds."""
    scale = max(1.0, float(expected.abs().max()))
    return float((got - expected).abs().max()) / scale


def write_check(work, inputs, expected):
    names = ('x', 't', 'labels')  # t: sigma for EDM networks, the kind's time for others
    for name, t in zip(names, inputs):
        if t is not None:
            np.save(os.path.join(work, f'check_{name}.npy'), t.numpy())
    np.save(os.path.join(work, 'check_expected.npy'), expected.numpy())


def run(net, inputs):
    x, sigma, labels = inputs
    if labels is None:
        return net(x, sigma)
    return net(x, sigma, labels)




def script(module):
    """torch.jit.script with the attributes the Java side and Python users read, set first so they are typed."""
    module.data_shape = [int(d) for d in module.data_shape]
    module.num_classes = int(module.num_classes)
    try:
        return torch.jit.script(module)
    except Exception as e:
        raise InputError(f'TorchScript cannot compile the network: {str(e).strip().splitlines()[0]}'
                         ' (try --trace for a network whose Python code TorchScript cannot read)')
