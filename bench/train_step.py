"""PyTorch twin of one Diff-Instruct training iteration (bench/TrainStepBench -> DiffInstruct.trainStep).

Loads the same TorchScript teacher, generator and fake-score files the Java benchmark uses, and the
same hyper-parameters (config.json written by bench PrepareModels), and runs the same computation,
op for op:
  * fake_steps x: x = g(z) under no_grad; sigma = exp(randn * p_std + p_mean); EDM denoising score
    matching loss of the fake score at x + sigma eps with lambda = (s^2 + sd^2) / (s^2 sd^2);
    zero_grad(set_to_none); backward; gradient norm (clipped only if grad_clip > 0) and the
    non-finite guard (a host read of the norm, as Java's Tensor.clipGradNorm); Adam step;
  * the generator: x = g(z); x_sigma = x.detach() + eps sigma; teacher and fake at x_sigma under
    no_grad, the fake with the teacher's dropout masks (default-generator state saved before the
    teacher and restored before the fake) when train_mode; loss = sum((D_fake - D_teacher) x) / N;
    backward, norm + guard, Adam step;
  * EMA of the generator's weights (mul_ + add_ per parameter), or a copy when the half-life is 0.
Teacher and fake run in train mode when train_mode (as DiffInstruct.run), the generator in train mode.
Adam is torch.optim.Adam with PyTorch's defaults otherwise (eps 1e-8). On CUDA (or with
--device-guard) the guard stays on the device as the Java trainer's does there: fused Adam, told a
device-side found_inf, skips a non-finite update without a host read. TorchScript's graph-executor
optimisation is switched like the Java trainer's (off; --jit-optimize turns it on), and TF32 and cuDNN's
autotuner as config.json says (tf32, cudnnBenchmark).
Prints JSON {name: {"mean_us", "err_us"}} like bench/op_overhead.py.
"""
import argparse
import copy
import json
import math
import statistics
import sys
import time

import torch


import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="prepared case: teacher.pt, generator.pt, fake.pt, config.json")
    ap.add_argument("--name", required=True, help="benchmark name to report")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]: networks, noise and RNG there (scripts/gpu-check.sh)")
    ap.add_argument("--device-guard", action=argparse.BooleanOptionalAction, default=None,
                    help="the non-finite guard without host reads, as the Java trainer runs it on CUDA: fused Adam"
                         " told found_inf on the device (GradScaler's mechanism); default: on for cuda")
    ap.add_argument("--jit-optimize", action="store_true")
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--cpu-steps", type=int, default=0, help="instead: time this many steps by thread CPU time")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--iteration-seconds", type=float, default=2.0)
    a = ap.parse_args()
    cfg = json.load(open(f"{a.dir}/config.json"))
    assert cfg["weighting"] == "SIGMA2" and cfg["sigmaSampler"] == "lognormal" and not cfg.get("classes"), \
        "the twin covers unconditional SIGMA2 + lognormal"
    if a.threads:
        torch.set_num_threads(a.threads)
    torch._C._set_graph_executor_optimize(a.jit_optimize)
    # as DistillRun sets them (flags for cuBLAS and cuDNN only)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = cfg.get("tf32", False)
    torch.backends.cudnn.benchmark = cfg.get("cudnnBenchmark", True)
    torch.manual_seed(cfg["seed"])
    train_mode = cfg["trainMode"]
    latent = [int(s) for s in cfg["latentShape"]]
    data = [int(s) for s in cfg["dataShape"]]
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    teacher = torch.jit.load(cfg["teacher"], map_location=dev).train(train_mode)
    for p in teacher.parameters():
        p.requires_grad_(False)
    gen = torch.jit.load(cfg["generator"], map_location=dev).train()
    fake = torch.jit.load(cfg["fake"], map_location=dev).train(train_mode)
    for p in list(gen.parameters()) + list(fake.parameters()):
        p.requires_grad_(True)
    with torch.no_grad():  # as ScriptModule.trainableCopy: the copies are leaves
        ema = copy.deepcopy(gen).train(False)
    for p in ema.parameters():
        p.requires_grad_(False)
    betas = (cfg["beta1"], cfg["beta2"])
    device_guard = cuda if a.device_guard is None else a.device_guard
    # the device guard needs fused Adam: the one implementation that skips an update on a device-side found_inf
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["lrG"], betas=betas, fused=device_guard or None)
    opt_f = torch.optim.Adam(fake.parameters(), lr=cfg["lrF"], betas=betas, fused=device_guard or None)
    gen_params, fake_params = list(gen.parameters()), list(fake.parameters())
    ema_pairs = list(zip(ema.parameters(), gen.parameters()))
    g = torch.Generator(device=dev).manual_seed(1)
    n, sd2 = cfg["batch"], cfg["sigmaData"] ** 2
    p_mean, p_std = cfg["pMean"], cfg["pStd"]
    grad_clip = cfg["gradClip"]
    ema_beta = 0.5 ** (n / cfg["emaHalflife"]) if cfg["emaHalflife"] > 0 else 0.0
    per_sample = [-1] + [1] * len(data)
    skipped = [0]

    def sigmas():
        return (torch.randn(n, generator=g, device=dev) * p_std + p_mean).exp()

    def guarded_step(opt, params):
        if device_guard:
            return device_guarded_step(opt, params)
        # libtorch's clip_grad_norm_: per-tensor norms, their norm, rescale only if over the limit
        grads = [p.grad for p in params if p.grad is not None]
        total = torch.stack([gr.norm(2) for gr in grads]).norm(2)
        if grad_clip > 0:
            coef = grad_clip / (total + 1e-6)
            if coef.item() < 1:
                for gr in grads:
                    gr.mul_(coef)
        norm = total.item()
        if not math.isfinite(norm):
            opt.zero_grad(set_to_none=True)
            skipped[0] += 1
            return norm
        opt.step()
        return norm

    def device_guarded_step(opt, params):
        # as the Java trainer on CUDA (Adam.guardedStep): norm, clip and finiteness stay on the device;
        # a non-finite gradient leaves parameters, moments and step counts as they were, and nothing waits
        grads = [p.grad for p in params if p.grad is not None]
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        if grad_clip > 0:
            torch._foreach_mul_(grads, (grad_clip / (total + 1e-6)).clamp(max=1.0))
        opt.grad_scale, opt.found_inf = None, (~torch.isfinite(total)).float()
        opt.step()

    def step():
        # 1. fake score: denoising score matching on detached generator samples
        for _ in range(cfg["fakeSteps"]):
            with torch.no_grad():
                x = gen(torch.randn([n] + latent, generator=g, device=dev))
            sigma = sigmas()
            eps = torch.randn(x.shape, generator=g, device=dev)
            d = fake(x + eps * sigma.reshape(per_sample), sigma)
            s2 = sigma.square()
            w = ((s2 + sd2) / (s2 * sd2)).reshape(per_sample)
            loss_f = (d - x).square().mul(w).sum() / n
            opt_f.zero_grad(set_to_none=True)
            loss_f.backward()
            guarded_step(opt_f, fake_params)
        # 2. generator: IKL gradient through the surrogate sum(grad_x * g(z)) / N
        z = torch.randn([n] + latent, generator=g, device=dev)
        sigma = sigmas()
        eps = torch.randn([n] + data, generator=g, device=dev)
        x = gen(z)
        xs = x.detach() + eps * sigma.reshape(per_sample)
        with torch.no_grad():
            rng = torch.cuda if cuda else torch  # dropout draws from the default generator of the networks' device
            state = rng.get_rng_state() if train_mode else None
            d_teacher = teacher(xs, sigma)
            if state is not None:
                rng.set_rng_state(state)  # the fake sees the teacher's dropout masks
            d_fake = fake(xs, sigma)
        loss_g = ((d_fake - d_teacher) * x).sum() / n
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        guarded_step(opt_g, gen_params)
        # 3. EMA
        with torch.no_grad():
            for e, p in ema_pairs:
                if ema_beta == 0:
                    e.copy_(p)
                else:
                    e.mul_(ema_beta).add_(p, alpha=1 - ema_beta)

    def run_for(seconds):
        k, t0 = 0, time.perf_counter()
        while True:
            step()
            k += 1
            if cuda:
                torch.cuda.synchronize()  # the guard's host reads sync every step anyway; this closes the last one
            t = time.perf_counter() - t0
            if t >= seconds:
                return t / k * 1e6

    if a.cpu_steps:  # quick A/B on a busy machine: wall and CPU time of this thread per step
        for _ in range(a.cpu_steps // 2):
            step()
        c0, t0 = time.thread_time(), time.perf_counter()
        for _ in range(a.cpu_steps):
            step()
        c1, t1 = time.thread_time(), time.perf_counter()
        print(f"{a.name} python: wall {(t1 - t0) / a.cpu_steps * 1e6:.1f} us/step, cpu {(c1 - c0) / a.cpu_steps * 1e6:.1f} us/step")
        return
    run_for(a.warmup)
    xs = [run_for(a.iteration_seconds) for _ in range(a.iterations)]
    err = 8.610 * statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) == 5 else float("nan")
    json.dump({a.name: {"mean_us": statistics.mean(xs), "err_us": err}}, sys.stdout)


if __name__ == "__main__":
    main()
