"""Stand-in for EDM's torch_utils.persistence: classes that pickle together with their source.

An instance of a decorated class pickles as ``_reconstruct_persistent_obj(meta)`` with
``meta = dict(type='class', version=6, module_src=..., class_name=..., state=obj.__dict__)``, the
layout EDM snapshots use, and records its constructor arguments as ``_init_args``/``_init_kwargs``.
Unpickling with this module executes ``module_src``, as EDM's does; edm_pickle reads without that.
"""
import copy
import inspect
import sys
import types

VERSION = 6
_modules_by_source = {}


def _source_of(cls):
    module = sys.modules[cls.__module__]
    # a module made from source text (tests) keeps that text; a file module is read back
    return getattr(module, '__edm_source__', None) or inspect.getsource(module)


def persistent_class(cls):
    if getattr(cls, '_persistent', False):
        return cls
    source = _source_of(cls)

    class Persistent(cls):
        _persistent = True
        _orig_module_src = source
        _orig_class_name = cls.__name__

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._init_args = copy.deepcopy(args)
            self._init_kwargs = copy.deepcopy(kwargs)

        def __reduce__(self):
            meta = dict(type='class', version=VERSION, module_src=self._orig_module_src,
                        class_name=self._orig_class_name, state=dict(self.__dict__))
            return _reconstruct_persistent_obj, (meta,)

    Persistent.__name__ = Persistent.__qualname__ = cls.__name__
    Persistent.__module__ = cls.__module__
    return Persistent


def _reconstruct_persistent_obj(meta):
    src = meta['module_src']
    module = _modules_by_source.get(src)
    if module is None:
        module = types.ModuleType(f'_persistent_source_{len(_modules_by_source)}')
        module.__edm_source__ = src
        sys.modules[module.__name__] = module
        _modules_by_source[src] = module
        exec(src, module.__dict__)
    cls = persistent_class(module.__dict__[meta['class_name']])
    obj = cls.__new__(cls)
    obj.__setstate__(dict(meta['state']))
    return obj


def import_hook(hook):
    """EDM's hook registry; accepted and ignored (nothing here patches sources)."""
    return hook


# pickles name the hook by EDM's module path
_reconstruct_persistent_obj.__module__ = 'torch_utils.persistence'
