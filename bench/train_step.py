"""PyTorch twin of one Diff-Instruct training iteration (bench/TrainStepBench, DiffInstruct.trainStep).

Loads the same TorchScript teacher, generator and fake-score files the Java benchmark uses and
runs the same computation: one denoising-score-matching update of the fake score on detached
generator samples, one IKL generator update (w = sigma^2, lognormal sigma), Adam with betas
(0, 0.999), gradient-norm computation (the non-finite guard), and the EMA update. Prints JSON
{name: {"mean_us", "err_us"}} like bench/op_overhead.py.
"""
import argparse
import copy
import json
import statistics
import sys
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="folder with teacher.pt, generator.pt, fake.pt")
    ap.add_argument("--name", required=True, help="benchmark name to report")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--latent-shape", required=True)
    ap.add_argument("--data-shape", required=True)
    ap.add_argument("--sigma-data", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--ema-beta", type=float, default=0.999)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--iteration-seconds", type=float, default=2.0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    latent = [int(s) for s in a.latent_shape.split(",")]
    data = [int(s) for s in a.data_shape.split(",")]
    teacher = torch.jit.load(f"{a.dir}/teacher.pt").eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    gen = torch.jit.load(f"{a.dir}/generator.pt").train()
    fake = torch.jit.load(f"{a.dir}/fake.pt").train()
    ema = copy.deepcopy(gen)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt_g = torch.optim.Adam(gen.parameters(), lr=a.lr, betas=(0.0, 0.999))
    opt_f = torch.optim.Adam(fake.parameters(), lr=a.lr, betas=(0.0, 0.999))
    g = torch.Generator().manual_seed(1)
    n, sd2 = a.batch, a.sigma_data ** 2
    per_sample = [-1] + [1] * len(data)

    def sigmas():
        return (torch.randn(n, generator=g) * 1.2 - 1.2).exp()

    def step():
        # fake score: denoising score matching on detached generator samples
        with torch.no_grad():
            x = gen(torch.randn([n] + latent, generator=g))
        sigma = sigmas()
        eps = torch.randn(x.shape, generator=g)
        sb = sigma.reshape(per_sample)
        d = fake(x + eps * sb, sigma)
        w = ((sigma * sigma + sd2) / (sigma * sigma * sd2)).reshape(per_sample)
        loss_f = ((d - x).square() * w).sum() / n
        opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        torch.nn.utils.clip_grad_norm_(fake.parameters(), float("inf"))
        opt_f.step()
        # generator: IKL gradient through the surrogate sum(grad_x * g(z)) / N
        z = torch.randn([n] + latent, generator=g)
        sigma = sigmas()
        eps = torch.randn([n] + data, generator=g)
        x = gen(z)
        xs = x.detach() + eps * sigma.reshape(per_sample)
        with torch.no_grad():
            d_teacher = teacher(xs, sigma)
            d_fake = fake(xs, sigma)
        loss_g = ((d_fake - d_teacher) * x).sum() / n
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), float("inf"))
        opt_g.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), gen.parameters()):
                e.mul_(a.ema_beta).add_(p, alpha=1 - a.ema_beta)

    def run_for(seconds):
        k, t0 = 0, time.perf_counter()
        while True:
            step()
            k += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                return t / k * 1e6

    run_for(a.warmup)
    xs = [run_for(a.iteration_seconds) for _ in range(a.iterations)]
    err = 8.610 * statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) == 5 else float("nan")
    json.dump({a.name: {"mean_us": statistics.mean(xs), "err_us": err}}, sys.stdout)


if __name__ == "__main__":
    main()
