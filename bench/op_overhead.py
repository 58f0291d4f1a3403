"""PyTorch reference for bench/OpOverheadBench: the same tiny ops, timed the same way.

Prints JSON {benchmark: {"mean_us": m, "err_us": e}} where err is the half-width of a 99.9%
confidence interval over the measurement iterations, as JMH reports it.
"""
import json
import statistics
import sys
import time

import torch

WARMUP_S, ITERATIONS, ITER_S = 3.0, 5, 1.0


def measure(fn):
    def run_for(seconds):
        n, t0 = 0, time.perf_counter()
        while True:
            for _ in range(1000):
                fn()
            n += 1000
            t = time.perf_counter() - t0
            if t >= seconds:
                return t / n * 1e6
    run_for(WARMUP_S)
    xs = [run_for(ITER_S) for _ in range(ITERATIONS)]
    # Student t for 99.9% two-sided with 4 degrees of freedom, as JMH uses
    err = 8.610 * statistics.stdev(xs) / len(xs) ** 0.5
    return {"mean_us": statistics.mean(xs), "err_us": err}


def main():
    torch.set_grad_enabled(True)
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    one = torch.tensor([3.0])
    out = {
        "add2x2": measure(lambda: a + b),
        "item": measure(lambda: one.item()),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
