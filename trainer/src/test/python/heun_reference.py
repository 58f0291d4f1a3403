#!/usr/bin/env python3
"""Reference for HeunSampler: EDM's second-order sampler (Karras et al. 2022, Algorithm 2;
Algorithm 1 without churn) written from the paper, on a TorchScript denoiser forward(x, sigma[,
class_labels]) with the same starting noise as the Java test.

Usage: heun_reference.py TEACHER.pt NOISE.npy OUT.npy STEPS SIGMA_MIN SIGMA_MAX RHO
           [--labels L.npy] [--churn S_CHURN S_TMIN S_TMAX S_NOISE SEED]
Writes the float32 samples to OUT.npy and prints the number of denoiser calls.
"""
import argparse

import numpy as np
import torch


import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
def main():
    p = argparse.ArgumentParser()
    p.add_argument("teacher")
    p.add_argument("noise")
    p.add_argument("out")
    p.add_argument("steps", type=int)
    p.add_argument("sigma_min", type=float)
    p.add_argument("sigma_max", type=float)
    p.add_argument("rho", type=float)
    p.add_argument("--labels")
    p.add_argument("--churn", nargs=5, type=float)
    a = p.parse_args()
    torch.set_num_threads(1)
    net = torch.jit.load(a.teacher)
    noise = torch.from_numpy(np.load(a.noise))
    labels = torch.from_numpy(np.load(a.labels)) if a.labels else None
    has_round = hasattr(net, "round_sigma")

    def round_sigma(s):
        return net.round_sigma(torch.as_tensor(s, dtype=torch.float64)) if has_round else torch.as_tensor(s, dtype=torch.float64)

    n = a.steps
    if n == 1:
        t = torch.tensor([a.sigma_max], dtype=torch.float64)
    else:
        i = torch.arange(n, dtype=torch.float64)
        t = (a.sigma_max ** (1 / a.rho) + i / (n - 1) * (a.sigma_min ** (1 / a.rho) - a.sigma_max ** (1 / a.rho))) ** a.rho
    t = torch.cat([round_sigma(t), torch.zeros(1, dtype=torch.float64)])

    calls = 0

    def D(x, sigma):
        nonlocal calls
        calls += 1
        s = torch.full((x.shape[0],), float(sigma), dtype=torch.float32)
        args = (x.float(), s) + ((labels,) if labels is not None else ())
        return net(*args).double()

    g = None
    if a.churn:
        s_churn, s_tmin, s_tmax, s_noise, seed = a.churn
        g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        x = noise.double() * t[0]
        for k in range(n):
            t_cur, t_next = float(t[k]), float(t[k + 1])
            t_hat, x_hat = t_cur, x
            if a.churn and s_churn > 0:
                gamma = min(s_churn / n, 2 ** 0.5 - 1) if s_tmin <= t_cur <= s_tmax else 0.0
                t_hat = float(round_sigma(torch.tensor([t_cur + gamma * t_cur]))[0])
                eps = torch.randn(x.shape, dtype=torch.float64, generator=g)
                x_hat = x + max(t_hat ** 2 - t_cur ** 2, 0.0) ** 0.5 * s_noise * eps
            d = (x_hat - D(x_hat, t_hat)) / t_hat
            x = x_hat + (t_next - t_hat) * d
            if k < n - 1:
                d2 = (x - D(x, t_next)) / t_next
                x = x_hat + (t_next - t_hat) * (0.5 * d + 0.5 * d2)
    np.save(a.out, x.float().numpy())
    print(calls)


if __name__ == "__main__":
    main()
