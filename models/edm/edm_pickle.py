"""Reading NVlabs EDM network pickles without EDM's code, and without running the pickle's code.

An EDM snapshot is ``pickle.dump(dict(ema=net, ...))`` where each network object was written by
``torch_utils.persistence`` as a call ``_reconstruct_persistent_obj(meta)``, ``meta`` holding
``class_name``, ``module_src`` (the full source of the module defining the class) and ``state`` (the
object's ``__dict__``: parameters, buffers, submodules, ``_init_kwargs``). EDM's own loader executes
``module_src``. This reader does not: its unpickler resolves only an allow-list of globals (tensor
and storage rebuilding, OrderedDict, numpy scalars, torch ModuleDict/ModuleList, EasyDict, and the
persistence hook) and turns every persistent object into a ``Persistent`` record. Any other global
(``os.system``, ``builtins.eval``, ...) refuses the file before anything is built.

``eager_network`` is the other path, used only as the reference for the import's check: it does
what EDM's loader does (executes the record's ``module_src``, with this folder's stand-ins for
``torch_utils`` and ``dnnlib``) and rebuilds the original eager network from the same records.
"""
import collections
import io
import pickle
import sys
import types

import torch

HOOK = ('torch_utils.persistence', '_reconstruct_persistent_obj')


class FormatError(Exception):
    """The file is not an EDM network pickle this reader supports (one line for the user)."""


class Persistent:
    """A persistent object as written: its class name, source and state, nothing executed."""

    def __init__(self, meta):
        if not isinstance(meta, dict) or meta.get('type') != 'class' or 'class_name' not in meta:
            raise FormatError('a persistent object has no class metadata')
        self.class_name = meta['class_name']
        self.version = meta.get('version')
        self.module_src = meta.get('module_src') or ''
        self.state = dict(meta.get('state') or {})

    def __repr__(self):
        return f'<{self.class_name}>'


class Plain:
    """A pickled object of an allowed torch container class (ModuleDict, ...), state not applied."""

    cls_name = None  # set per container class by _plain (NEWOBJ calls __new__ only)
    state = {}

    def __setstate__(self, state):
        self.state = dict(state)


def _plain(name):
    return type(name, (Plain,), {'cls_name': name})


def _load_storage(b):
    # the bytes are a torch.save of one storage; weights_only refuses anything but tensors
    return torch.load(io.BytesIO(b), weights_only=True)


class EasyDict(dict):
    """dnnlib.EasyDict as data: a dict whose keys are also attributes."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)

    def __setstate__(self, state):
        self.update(state)


_CONTAINERS = {f'torch.nn.modules.container.{n}': n for n in ('ModuleDict', 'ModuleList', 'Sequential', 'ParameterDict', 'ParameterList')}


def _allowed(module, name):
    full = f'{module}.{name}'
    if (module, name) == HOOK:
        return Persistent
    if full in ('dnnlib.util.EasyDict', 'dnnlib.EasyDict'):
        return EasyDict
    if full in _CONTAINERS:
        return _plain(_CONTAINERS[full])
    if full == 'torch.storage._load_from_bytes':
        return _load_storage
    if full == 'collections.OrderedDict':
        return collections.OrderedDict
    if module == 'torch._utils' and name in ('_rebuild_tensor_v2', '_rebuild_tensor_v3', '_rebuild_parameter',
                                              '_rebuild_parameter_with_state'):
        return getattr(torch._utils, name)
    if module == 'torch' and (name.endswith('Storage') or isinstance(getattr(torch, name, None), torch.dtype)):
        return getattr(torch, name)
    if module in ('numpy.core.multiarray', 'numpy._core.multiarray') and name in ('scalar', '_reconstruct'):
        try:  # numpy 2 moved it; numpy 1 has only the old name
            import numpy._core.multiarray as m
        except ImportError:
            import numpy.core.multiarray as m
        return getattr(m, name)
    if full in ('numpy.dtype', 'numpy.ndarray') or (module == 'numpy.dtypes' and name.endswith('DType')):
        import numpy
        return getattr(numpy, name) if module == 'numpy' else getattr(__import__('numpy.dtypes').dtypes, name)
    if full in ('builtins.set', 'builtins.frozenset', 'builtins.slice', 'builtins.complex'):
        return getattr(__import__('builtins'), name)
    return None


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        found = _allowed(module, name)
        if found is None:
            raise FormatError(f'it refers to {module}.{name}, which an EDM network pickle does not use; '
                              'refusing to load it (nothing of it was run)')
        return found


def read_snapshot(path):
    """The pickle's top-level dict, with persistent objects as records. Raises FormatError."""
    try:
        with open(path, 'rb') as f:
            data = _Unpickler(f).load()
    except FormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise FormatError(f'not a readable pickle ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else "truncated"})')
    if not isinstance(data, dict):
        raise FormatError(f'the pickle holds a {type(data).__name__}, not the dict of an EDM snapshot')
    return data


def find_network(data, key='ema'):
    """The network record under ``key`` ('ema' in every EDM snapshot)."""
    if key not in data:
        raise FormatError(f"it has no '{key}' entry (entries: {', '.join(map(str, data)) or 'none'})")
    net = data[key]
    if not isinstance(net, Persistent):
        raise FormatError(f"its '{key}' entry is a {type(net).__name__}, not a persistent EDM network")
    return net


def tensors(record, prefix=''):
    """Every parameter and buffer under a record, by its state_dict name (None entries skipped)."""
    out = {}
    state = record.state
    for group in ('_parameters', '_buffers'):
        for k, v in (state.get(group) or {}).items():
            if v is not None:
                if k in (state.get('_non_persistent_buffers_set') or ()):
                    continue
                out[prefix + k] = v.detach() if isinstance(v, torch.Tensor) else v
    for k, sub in (state.get('_modules') or {}).items():
        if sub is not None:
            out.update(tensors(sub, prefix + k + '.'))
    return out


def init_kwargs(record):
    kw = record.state.get('_init_kwargs')
    args = record.state.get('_init_args')
    if kw is None:
        raise FormatError(f'its {record.class_name} has no recorded constructor arguments (_init_kwargs)')
    if args:
        raise FormatError(f'its {record.class_name} was built with positional arguments, which this reader does not map')
    return {k: _plain_value(v) for k, v in dict(kw).items()}


def _plain_value(v):
    """numpy scalars and EasyDicts as the Python values a constructor takes."""
    if isinstance(v, dict):
        return {k: _plain_value(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain_value(e) for e in v)
    if hasattr(v, 'item') and not isinstance(v, torch.Tensor):
        return v.item()
    return v


# ---- the reference path: EDM's own code, as EDM's loader would run it ----

_STANDINS = None


def _install_standins():
    """Puts this folder's torch_utils and dnnlib stand-ins in sys.modules (the network source imports them)."""
    global _STANDINS
    if _STANDINS is None:
        import standins.persistence as persistence
        import standins.misc as misc
        torch_utils = types.ModuleType('torch_utils')
        torch_utils.persistence, torch_utils.misc = persistence, misc
        dnnlib = types.ModuleType('dnnlib')
        dnnlib.EasyDict = EasyDict
        dnnlib.util = types.SimpleNamespace(EasyDict=EasyDict)
        _STANDINS = {'torch_utils': torch_utils, 'torch_utils.persistence': persistence,
                     'torch_utils.misc': misc, 'dnnlib': dnnlib}
    sys.modules.update(_STANDINS)


def eager_network(record):
    """The original eager network: executes each record's module_src (cached per source)."""
    _install_standins()
    modules = {}

    def build(obj):
        if isinstance(obj, Persistent):
            mod = modules.get(obj.module_src)
            if mod is None:
                mod = types.ModuleType(f'_edm_source_{id(modules)}_{len(modules)}')
                # the source's decorators read it back from sys.modules, as with a file module
                mod.__edm_source__ = obj.module_src
                sys.modules[mod.__name__] = mod
                exec(compile(obj.module_src, f'<{obj.class_name} source in the pickle>', 'exec'), mod.__dict__)
                modules[obj.module_src] = mod
            cls = mod.__dict__.get(obj.class_name)
            if cls is None:
                raise FormatError(f'its source does not define {obj.class_name}')
            inst = cls.__new__(cls)
            inst.__setstate__(build(obj.state)) if hasattr(inst, '__setstate__') else inst.__dict__.update(build(obj.state))
            return inst
        if isinstance(obj, Plain):
            cls = getattr(torch.nn, obj.cls_name)
            inst = cls.__new__(cls)
            inst.__setstate__(build(obj.state))
            return inst
        if isinstance(obj, collections.OrderedDict):
            return collections.OrderedDict((k, build(v)) for k, v in obj.items())
        if isinstance(obj, dict):
            return type(obj)({k: build(v) for k, v in obj.items()})
        return obj

    return build(record)
