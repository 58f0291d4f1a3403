"""Does an AOTInductor teacher pay? Times the UNet teacher's forward (models/unet.py, eval mode, no
grad) as the tool runs it, a frozen TorchScript module with the graph executor's optimisation off,
against the same network compiled ahead of time by AOTInductor (torch.export +
aoti_compile_and_package, a .pt2 package; what a `--teacher T.pt2` would load in C++ with
AOTIModelPackageLoader), interleaved, and prints both, their ratio and the largest difference.

  <pip torch 2.x python> bench/aoti_teacher.py [--device cpu|cuda] [--batch 32] [--threads 1]

Needs PyTorch 2.x with a C++ compiler (CPU) or Triton (CUDA) for the compilation. The teacher is
the one network of the step that never trains, so it is the only one AOTInductor (inference only)
could replace; the step calls it once per iteration.
"""
import argparse
import ctypes
import json
import os
import sys
import tempfile
import time
import warnings

import torch

warnings.filterwarnings("ignore")  # torch.jit's deprecation and export's FutureWarnings: the figures are the output
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import unet  # noqa: E402


def timed(f, reps):
    with torch.no_grad():
        for _ in range(3):
            f()
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        sync()
    return (time.perf_counter() - t0) / reps * 1e3


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # The compiled package's kernels resolve libtorch's C shim (aoti_torch_*) in the global symbol
    # scope; Python loads libtorch_cpu privately, so its symbols are made global first.
    ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"), mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    net = unet.build().eval().to(dev)
    x = torch.randn(a.batch, 1, 28, 28, device=dev)
    sigma = torch.rand(a.batch, device=dev) * 2 + 0.1
    scripted = torch.jit.freeze(torch.jit.script(net).eval())  # as FrozenTeacher freezes an eval-mode teacher
    torch._C._set_graph_executor_optimize(False)  # as the Java trainer runs every module
    with torch.no_grad():
        ref = scripted(x, sigma)  # before export, which leaves the scripted module's lazily compiled methods unusable
    n = torch.export.Dim("n", min=1, max=4096)
    exported = torch.export.export(net, (x, sigma), dynamic_shapes=({0: n}, {0: n}))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = torch._inductor.aoti_compile_and_package(exported, package_path=os.path.join(tmp, "teacher.pt2"))
        compile_s = time.perf_counter() - t0
        compiled = torch._inductor.aoti_load_package(path)
        ts, aoti = [], []
        for _ in range(a.rounds):
            ts.append(timed(lambda: scripted(x, sigma), a.reps))
            aoti.append(timed(lambda: compiled(x, sigma), a.reps))
        with torch.no_grad():
            diff = (compiled(x, sigma) - ref).abs().max().item() / ref.abs().max().item()
    best_ts, best_aoti = min(ts), min(aoti)
    print(json.dumps({"torch": torch.__version__, "device": a.device, "batch": a.batch, "threads": a.threads,
                      "torchscript_ms": [round(t, 1) for t in ts], "aoti_ms": [round(t, 1) for t in aoti],
                      "aoti_over_torchscript": round(best_aoti / best_ts, 2), "compile_s": round(compile_s, 1),
                      "max_rel_diff": diff}))


if __name__ == "__main__":
    main()
