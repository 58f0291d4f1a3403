"""Writes an NVlabs-EDM-format network pickle from this project's own network source, for tests and
benchmarks (no EDM repository needed).

    make_edm_pickle.py --out NET.pkl --precond VPPrecond --config '{"img_resolution": 16, ...}' [--seed 0] [--scale 0.2]

The pickle is what EDM's training writes: a dict whose 'ema' entry is a persistent object (its
module_src is edm_nets.py and edm_precond.py as one module, importing torch_utils.persistence as
EDM's does), plus 'loss_fn' and 'dataset_kwargs' entries an importer must skip. Weights are random
(normal, times --scale: zero-initialised layers would hide mistakes in an import).
"""
import argparse
import json
import os
import pickle
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import edm_pickle  # noqa: E402

CLASSES = ('Linear', 'Conv2d', 'GroupNorm', 'UNetBlock', 'PositionalEmbedding', 'FourierEmbedding',
           'SongUNet', 'DhariwalUNet', 'EDMPrecond', 'VPPrecond', 'VEPrecond', 'iDDPMPrecond')


def network_source(perturb=False):
    """edm_nets + edm_precond as one module whose classes are persistent, as an EDM networks.py."""
    with open(os.path.join(HERE, 'edm_nets.py')) as f:
        nets = f.read()
    with open(os.path.join(HERE, 'edm_precond.py')) as f:
        precond = f.read().replace('from edm_nets import EDM, VP, VE, IDDPM, MODELS\n', '')
    decorate = ''.join(f'{c} = persistence.persistent_class({c})\n' for c in CLASSES)
    return ('from torch_utils import persistence\n' + nets + '\n' + precond
            + '\n# as EDM decorates its classes: instances pickle with this source\n' + decorate
            + 'MODELS = {"SongUNet": SongUNet, "DhariwalUNet": DhariwalUNet}\n'
            # tests: a network whose own source computes something else than its parameters say
            + ('_denoise = Precond.denoise\nPrecond.denoise = lambda self, *a: _denoise(self, *a) + 1e-3\n' if perturb else ''))


def network_module(perturb=False):
    edm_pickle._install_standins()
    src = network_source(perturb)
    mod = types.ModuleType('test_networks')
    mod.__edm_source__ = src
    sys.modules[mod.__name__] = mod
    exec(compile(src, 'test_networks.py', 'exec'), mod.__dict__)
    return mod


def main(argv=None):
    p = argparse.ArgumentParser(prog='make_edm_pickle.py')
    p.add_argument('--out', required=True)
    p.add_argument('--precond', default='EDMPrecond', choices=CLASSES[-4:])
    p.add_argument('--config', default='{}', help='constructor arguments of the preconditioning, JSON')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--scale', type=float, default=0.2)
    p.add_argument('--perturb', action='store_true', help='tests: the embedded source adds 1e-3 to D (an import must refuse it)')
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    mod = network_module(a.perturb)
    net = getattr(mod, a.precond)(**json.loads(a.config)).eval().requires_grad_(False)
    with torch.no_grad():
        for t in net.parameters():
            t.copy_(torch.randn_like(t) * a.scale)
    with open(a.out, 'wb') as f:
        pickle.dump(dict(ema=net, loss_fn=dict(P_mean=-1.2), dataset_kwargs=dict(path='data.zip')), f)
    print(json.dumps(dict(out=a.out, parameters=sum(t.numel() for t in net.parameters()))))


if __name__ == '__main__':
    main()
