#!/usr/bin/env python3
"""Reference fixtures for the bindings tests, made by PyTorch itself on the same libtorch.

Usage: make_fixtures.py OUTDIR

Writes TorchScript modules (torch.jit.script + torch.jit.save), their inputs, outputs, gradients,
Adam trajectories and gradient-clipping results as .npy files, seeded random draws, reference
values for single tensor operations, and two corrupt .pt files. Everything is deterministic
(fixed seeds), so the files are the same on every run.

Layout, for each model M in {mlp, conv}:
  M.pt                      the scripted module
  M/params.txt              parameter names, in named_parameters() order
  M/in_<i>.npy              forward inputs (in_0 = x, in_1 = sigma for conv)
  M/out.npy                 forward output
  M/loss.npy                the scalar loss (out**2).mean()
  M/grad/<param>.npy        d loss / d param
  M/adam_b0/<param>.npy     params after 3 Adam steps, betas (0, 0.999), lr 1e-2, wd 1e-4
  M/adam_*_nowd/<param>.npy the same without weight decay (the shim's fused Adam)
  M/adam_default/<param>.npy  the same with the default betas (0.9, 0.999)
  M/clip/total_norm.npy     clip_grad_norm_(params, CLIP_MAX_NORM)'s result
  M/clip/<param>.npy        the gradients after clipping
"""
import os
import sys

import numpy as np
import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
import torch.nn as nn
import torch.nn.functional as F

ADAM_LR = 1e-2
ADAM_WEIGHT_DECAY = 1e-4
ADAM_STEPS = 3
CLIP_MAX_NORM = 0.05


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 32)
        self.fc2 = nn.Linear(32, 32)
        self.out = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.fc1(x))
        h = F.silu(self.fc2(h))
        return self.out(h)


class ConvNet(nn.Module):
    """A tiny denoiser: x [N,1,8,8], sigma [N]; log(sigma) is embedded and added to the channels."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.embed = nn.Linear(1, 8)
        self.conv2 = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        e = self.embed(torch.log(sigma).unsqueeze(1))
        h = F.silu(self.conv1(x) + e[:, :, None, None])
        return self.conv2(h)


def save(path, t):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    np.save(path, np.asarray(a, order="C"))  # not ascontiguousarray: it makes 0-d arrays 1-d


def loss_of(module, inputs):
    out = module(*inputs)
    return out, (out ** 2).mean()


def write_model(outdir, name, eager, inputs):
    torch.jit.save(torch.jit.script(eager), os.path.join(outdir, name + ".pt"))
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    for i, x in enumerate(inputs):
        save(os.path.join(d, "in_%d.npy" % i), x)

    # The references come from the file as saved, exactly what Java loads.
    def fresh():
        return torch.jit.load(os.path.join(outdir, name + ".pt"))

    m = fresh()
    names = [n for n, _ in m.named_parameters()]
    with open(os.path.join(d, "params.txt"), "w") as f:
        f.write("\n".join(names) + "\n")

    out, loss = loss_of(m, inputs)
    save(os.path.join(d, "out.npy"), out)
    save(os.path.join(d, "loss.npy"), loss)
    loss.backward()
    for n, p in m.named_parameters():
        save(os.path.join(d, "grad", n + ".npy"), p.grad)

    params = [p for _, p in m.named_parameters()]
    total = torch.nn.utils.clip_grad_norm_(params, CLIP_MAX_NORM)
    assert total.item() > CLIP_MAX_NORM, "the clipping fixture must actually clip"
    save(os.path.join(d, "clip", "total_norm.npy"), total)
    for n, p in m.named_parameters():
        save(os.path.join(d, "clip", n + ".npy"), p.grad)

    # without weight decay the shim takes its fused one-pass Adam (from the second step on)
    for tag, betas, wd in (("adam_b0", (0.0, 0.999), ADAM_WEIGHT_DECAY), ("adam_default", (0.9, 0.999), ADAM_WEIGHT_DECAY),
                           ("adam_b0_nowd", (0.0, 0.999), 0.0), ("adam_default_nowd", (0.9, 0.999), 0.0)):
        m = fresh()
        opt = torch.optim.Adam(m.parameters(), lr=ADAM_LR, betas=betas, weight_decay=wd)
        for _ in range(ADAM_STEPS):
            opt.zero_grad(set_to_none=True)
            _, loss = loss_of(m, inputs)
            loss.backward()
            opt.step()
        for n, p in m.named_parameters():
            save(os.path.join(d, tag, n + ".npy"), p)


def write_random(outdir):
    """Draws from torch.Generator().manual_seed(seed), two in a row, to check the stream too."""
    d = os.path.join(outdir, "random")
    for seed in (0, 42, 123456789):
        g = torch.Generator().manual_seed(seed)
        save(os.path.join(d, "randn_%d_a.npy" % seed), torch.randn(5, generator=g))          # scalar path
        save(os.path.join(d, "randn_%d_b.npy" % seed), torch.randn(3, 1, 8, 8, generator=g))  # vectorised path
        g = torch.Generator().manual_seed(seed)
        save(os.path.join(d, "randn64_%d.npy" % seed), torch.randn(4, 7, generator=g, dtype=torch.float64))
        g = torch.Generator().manual_seed(seed)
        save(os.path.join(d, "rand_%d.npy" % seed), torch.rand(6, 3, generator=g))


def write_ops(outdir):
    """Reference values of single operations on one fixed input."""
    d = os.path.join(outdir, "ops")
    a = torch.arange(60, dtype=torch.float64).reshape(3, 4, 5)
    a = torch.sin(a * 0.7) * 3.0 + 0.25 * a  # distinct, mixed-sign values
    save(os.path.join(d, "a.npy"), a)
    ops = {
        "sum_02_keep": a.sum(dim=(0, 2), keepdim=True),
        "sum_1": a.sum(dim=1),
        "mean_neg1": a.mean(dim=-1),
        "amax_1_keep": a.amax(dim=1, keepdim=True),
        "amin_02": a.amin(dim=(0, 2)),
        "var_2": a.var(dim=2),
        "std_0_keep": a.std(dim=0, keepdim=True),
        "norm_12": torch.linalg.vector_norm(a, 2, dim=(1, 2)),
        "logsumexp_2": a.logsumexp(dim=2),
        "argmax_2": a.argmax(dim=2),
        "argmin_1_keep": a.argmin(dim=1, keepdim=True),
        "var_all": a.var(),
        "std_all": a.std(),
        "norm_all": torch.linalg.vector_norm(a),
        "cat_1": torch.cat([a, a * 2], dim=1),
        "stack_neg1": torch.stack([a, -a, a + 1], dim=-1),
        "select_1_2": a.select(1, 2),
        "narrow_2_1_3": a.narrow(2, 1, 3),
        "index_select_2": a.index_select(2, torch.tensor([4, 0, 2, 2])),
        "clamp_lo": a.clamp(min=-1.0),
        "clamp_hi": a.clamp(max=2.0),
        "clamp_both": a.clamp(-1.0, 2.0),
        "where_pos": torch.where(a > 0, a, a * 10),
        "to_int64": a.to(torch.int64),
        "cumsum_1": a.cumsum(1),
        "sort_2_desc": a.sort(dim=2, descending=True).values,
        "permute_201": a.permute(2, 0, 1).contiguous(),
    }
    for name, t in ops.items():
        save(os.path.join(d, name + ".npy"), t)
    s = torch.tensor([[4.0, 1.0, -2.0], [1.0, 3.0, 0.5], [-2.0, 0.5, 5.0]], dtype=torch.float64)
    save(os.path.join(d, "sym.npy"), s)
    save(os.path.join(d, "sym_eigvals.npy"), torch.linalg.eigvalsh(s))


def write_corrupt(outdir):
    rng = np.random.default_rng(7)
    with open(os.path.join(outdir, "corrupt_random.pt"), "wb") as f:
        f.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with open(os.path.join(outdir, "mlp.pt"), "rb") as f:
        real = f.read()
    with open(os.path.join(outdir, "corrupt_truncated.pt"), "wb") as f:
        f.write(real[: len(real) // 2])
    with open(os.path.join(outdir, "not_npy.npy"), "wb") as f:
        f.write(b"this is plain text, not a NumPy array file\n" * 4)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUTDIR")
    if os.environ.get("PYTHONHASHSEED") != "0":
        # TorchScript serialises a module's constants in set order: fix the hash seed so that the
        # .pt files, not only the numbers, are the same on every run.
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)

    torch.manual_seed(1234)
    mlp = MLP()
    x = torch.randn(16, 2)
    write_model(outdir, "mlp", mlp, [x])

    torch.manual_seed(4321)
    conv = ConvNet()
    x = torch.randn(4, 1, 8, 8)
    sigma = torch.exp(torch.randn(4))
    write_model(outdir, "conv", conv, [x, sigma])

    write_random(outdir)
    write_ops(outdir)
    write_corrupt(outdir)
    print("fixtures written to", outdir)


if __name__ == "__main__":
    main()
