"""Python side of ``diffinstruct import``: builds a pre-trained network, scripts it, checks it.

    import_teacher.py edm    --pkl NET.pkl --work DIR [--key ema] [--no-exec] [--tolerance T]
    import_teacher.py module --module pkg.mod:Factory --weights W --kind K --shape C,H,W --work DIR ...

Writes ``DIR/teacher.pt`` (TorchScript), ``DIR/check_*.npy`` (the inputs of the check and the eager
network's outputs, so that the Java side can repeat the comparison on its own LibTorch) and prints
one JSON line describing the result on stdout. Progress goes to stderr. Bad input: one line
``error: ...`` on stderr and exit status 2, nothing written.
"""
import argparse
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import edm_pickle  # noqa: E402
from edm_nets import IDDPM, MODELS, PRECOND_KINDS  # noqa: E402
from edm_precond import Teacher, TeacherCond  # noqa: E402
from import_common import (SIGMAS, InputError, check_inputs, compare, load_into, run, say,  # noqa: E402
                           script, write_check)

PRECOND_NAMES = {v: k for k, v in PRECOND_KINDS.items()}


def build_teacher(rec):
    """Our scriptable teacher from a precond record, its parameters loaded by name."""
    kind = PRECOND_KINDS.get(rec.class_name)
    if kind is None:
        raise InputError(f"its network is a {rec.class_name}; supported: {', '.join(PRECOND_KINDS)}")
    st = rec.state
    model_rec = (st.get('_modules') or {}).get('model')
    if not isinstance(model_rec, edm_pickle.Persistent):
        raise InputError(f'its {rec.class_name} has no model submodule')
    model_cls = MODELS.get(model_rec.class_name)
    if model_cls is None:
        raise InputError(f"its {rec.class_name} wraps a {model_rec.class_name}; supported: {', '.join(MODELS)}")
    try:
        model = model_cls(**edm_pickle.init_kwargs(model_rec))
    except TypeError as e:
        raise InputError(f'its {model_rec.class_name} has arguments this importer does not know ({e})')
    label_dim = int(st.get('label_dim', 0) or 0)
    u = (st.get('_buffers') or {}).get('u')
    cls = TeacherCond if label_dim else Teacher
    teacher = cls(kind, st['img_resolution'], st['img_channels'], label_dim, model,
                  float(st.get('sigma_min', 0)), float(st.get('sigma_max', float('inf'))),
                  sigma_data=float(st.get('sigma_data', 0.5)), beta_d=float(st.get('beta_d', 19.9)),
                  beta_min=float(st.get('beta_min', 0.1)), M=int(st.get('M', 1000)),
                  u=u.detach().clone().float() if kind == IDDPM and u is not None else None,
                  use_fp16=bool(st.get('use_fp16', False)))
    load_into(teacher, edm_pickle.tensors(rec), rec.class_name, placeholder_u=kind != IDDPM)
    return teacher.eval()


def import_edm(a):
    t0 = time.time()
    say(f'reading {a.pkl} (its globals are resolved from an allow-list; no code of it runs yet)')
    data = edm_pickle.read_snapshot(a.pkl)
    rec = edm_pickle.find_network(data, a.key)
    skipped = [k for k in data if k != a.key]
    teacher = build_teacher(rec)
    n_params = sum(p.numel() for p in teacher.parameters())
    model_name = rec.state['_modules']['model'].class_name
    label_dim, shape = teacher.label_dim, [teacher.img_channels, teacher.img_resolution, teacher.img_resolution]
    say(f'built {rec.class_name}({model_name}): {n_params / 1e6:.1f} M parameters, data {shape}, '
        f'{"label_dim " + str(label_dim) if label_dim else "unconditional"}'
        + (f'; skipped entries {", ".join(map(str, skipped))}' if skipped else ''))
    teacher.data_shape, teacher.num_classes = shape, label_dim
    scripted = script(teacher)
    inputs = check_inputs(shape, label_dim)
    with torch.no_grad():
        got = run(scripted, inputs)
        if a.no_exec:
            say('reference: this importer\'s own eager network (--no-exec: the pickle\'s source is not run)')
            reference = teacher
        else:
            say('reference: the network as its own source in the pickle builds it (that source runs now)')
            try:
                reference = edm_pickle.eager_network(rec).eval()
            except edm_pickle.FormatError:
                raise
            except Exception as e:  # the pickle's own code failed: we cannot check against it
                raise InputError(f'its own network source fails to build ({type(e).__name__}: {e}); '
                                 'give --no-exec to import without that reference')
        expected = run(reference, inputs)
    err = compare(expected, got)
    say(f'check: {len(SIGMAS)} inputs at sigma {SIGMAS[0]}..{SIGMAS[-1]}'
        + (f', labels 0..{min(label_dim, len(SIGMAS)) - 1}' if label_dim else '')
        + f': max |D_script - D_eager| / max(1, max |D|) = {err:.2e} (tolerance {a.tolerance:g})')
    if not err <= a.tolerance:
        raise InputError(f'the TorchScript network disagrees with the eager one: {err:.2e} > tolerance {a.tolerance:g}')
    os.makedirs(a.work, exist_ok=True)
    scripted.save(os.path.join(a.work, 'teacher.pt'))
    write_check(a.work, inputs, expected)
    return dict(kind='edm', precond=rec.class_name, model=model_name, parameters=n_params, data_shape=shape,
                label_dim=label_dim, sigma_min=teacher.sigma_min, sigma_max=teacher.sigma_max,
                use_fp16=teacher.use_fp16, error=err, tolerance=a.tolerance, reference='own' if a.no_exec else 'pickle',
                skipped=[str(k) for k in skipped], seconds=time.time() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(prog='import_teacher.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('edm')
    e.add_argument('--pkl', required=True)
    e.add_argument('--key', default='ema')
    e.add_argument('--no-exec', action='store_true')
    m = sub.add_parser('module')
    m.add_argument('--module', required=True)
    m.add_argument('--weights')
    m.add_argument('--kind', required=True, choices=['edm', 'vp-eps', 'ddpm-eps', 'ddpm-v'])
    m.add_argument('--weights-key')
    m.add_argument('--kwargs')
    m.add_argument('--shape')
    m.add_argument('--classes', type=int, default=0)
    m.add_argument('--labels', choices=['one-hot', 'index'], default='one-hot')
    m.add_argument('--path', action='append', default=[])
    m.add_argument('--trace', action='store_true')
    m.add_argument('--time-scale', type=float, default=1.0)
    m.add_argument('--ddpm-steps', type=int, default=1000)
    for s in (e, m):
        s.add_argument('--work', required=True)
        s.add_argument('--tolerance', type=float, default=1e-4)
    a = p.parse_args(argv)
    # PyTorch 2.x deprecates torch.jit in Python and says so on every call: notices, not our output
    warnings.filterwarnings('ignore', message=r'(?s).*torch\.jit')
    torch.manual_seed(0)
    try:
        if a.cmd == 'edm':
            summary = import_edm(a)
        else:
            import module_import
            summary = module_import.import_module(a)
    except (InputError, edm_pickle.FormatError) as ex:
        # the checkpoint's name first: "it refers to ..." then reads as said of that file
        name = f'{a.pkl}: ' if a.cmd == 'edm' and not str(ex).startswith('--') else ''
        print(f'error: {name}{ex}', file=sys.stderr)
        return 2
    except OSError as ex:
        print(f'error: {ex.filename or ""}: {ex.strerror or ex}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('error: stopped: nothing written', file=sys.stderr)
        return 130
    except Exception as ex:  # a failure nobody foresaw: still one line, the trace only on request
        if os.environ.get('DIFFINSTRUCT_DEBUG'):
            raise
        print(f'error: {type(ex).__name__}: {str(ex).strip().splitlines()[0] if str(ex).strip() else ""} '
              '(set DIFFINSTRUCT_DEBUG=1 for the Python trace)', file=sys.stderr)
        return 2
    summary['torch'] = torch.__version__
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
