"""PyTorch twin of bench/SamplingBench: one batch from the one-step generator, and one batch from
the teacher with EDM's deterministic 18-step Heun sampler (float64 state, float32 denoiser calls,
last step Euler: 35 evaluations), as trainer/.../HeunSampler does. Eval mode, no grad.
Prints JSON {name: {"mean_us", "err_us"}}.
"""
import argparse
import json
import statistics
import sys
import time

import torch


import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
def karras(steps=18, smin=0.002, smax=80.0, rho=7.0):
    i = torch.arange(steps, dtype=torch.float64)
    s = (smax ** (1 / rho) + i / (steps - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    return s.tolist() + [0.0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--warmup", type=float, default=6.0)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--iteration-seconds", type=float, default=2.0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch._C._set_graph_executor_optimize(False)
    torch.set_grad_enabled(False)
    cfg = json.load(open(f"{a.dir}/config.json"))
    gen = torch.jit.load(cfg["generator"]).eval()
    teacher = torch.jit.load(cfg["teacher"]).eval()
    shape = [a.batch] + [int(s) for s in cfg["latentShape"]]
    g = torch.Generator().manual_seed(7)
    levels = karras()

    def one_step():
        return gen(torch.randn(shape, generator=g))

    def denoise(x, s):
        return teacher(x.to(torch.float32), torch.full([a.batch], s, dtype=torch.float32)).to(torch.float64)

    def heun18():
        x = torch.randn(shape, generator=g).to(torch.float64) * levels[0]
        for i in range(len(levels) - 1):
            t, tn = levels[i], levels[i + 1]
            d = (x - denoise(x, t)) / t
            xn = x + d * (tn - t)
            if i < len(levels) - 2:
                d2 = (xn - denoise(xn, tn)) / tn
                xn = x + (d + d2) * (0.5 * (tn - t))
            x = xn
        return x.to(torch.float32)

    def measure(fn):
        def run_for(seconds):
            k, t0 = 0, time.perf_counter()
            while True:
                fn()
                k += 1
                t = time.perf_counter() - t0
                if t >= seconds:
                    return t / k * 1e6
        run_for(a.warmup)
        xs = [run_for(a.iteration_seconds) for _ in range(a.iterations)]
        return {"mean_us": statistics.mean(xs), "err_us": 8.610 * statistics.stdev(xs) / len(xs) ** 0.5}

    json.dump({"oneStep": measure(one_step), "heun18": measure(heun18)}, sys.stdout)


if __name__ == "__main__":
    main()
