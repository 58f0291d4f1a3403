#!/usr/bin/env python3
"""Exports ONE analytic Gaussian mixture as TorchScript teachers in every supported convention,
with reference denoiser values, for Teachers.asDenoiser's test (TeachersTest.java).

Teachers written (each computes the exact mixture posterior in float64 inside, float32 in/out):
  edm              forward(x, sigma) -> D(x, sigma)
  vp_eps           forward(x_t, t) -> eps_hat, VP-SDE beta 0.1..20, t in (0, 1]
  ddpm_{eps,v}_{linear,cosine}   forward(x_t, t int64) -> eps_hat / v_hat, 1000-step table
  *_cond           the same with a third argument class_labels (one-hot [N, C]); each class
                   re-weights the components (class 0: components 0 and 1, class 1: component 2)

Files per teacher NAME in OUT: NAME.pt, NAME.x.npy (float32 [M, 2]), NAME.sigma.npy (float32 [M]),
NAME.d.npy (float64 [M, 2], exact D), NAME.labels.npy (float32 one-hot, conditional only); for
DDPM teachers the sigmas are exact table entries, and NAME.between.{x,sigma,d,index}.npy holds
sigmas between entries with the D expected from rounding to the nearest entry (the index picks the
network's time step; the scalings use the sigma given, as EDM's iDDPMPrecond). manifest.txt has
one line per teacher: NAME KIND SCHEDULE CLASSES BETA_MIN BETA_MAX TIME_SCALE.

Usage: export_mixture_kinds.py OUT_DIR
"""
import math
import os
import sys

import numpy as np
import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
from torch import Tensor

MEANS = np.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.0]])
STDS = np.array([0.3, 0.5, 0.2])
WEIGHTS = np.array([0.5, 0.3, 0.2])
# class c -> weights over components (rows sum to 1; zeros exclude a component)
CLASS_WEIGHTS = np.array([[0.625, 0.375, 0.0], [0.0, 0.0, 1.0]])


class Mixture(torch.nn.Module):
    """Exact D(x, sigma) = E[x0 | x] of the mixture, in float64."""

    def __init__(self):
        super().__init__()
        self.register_buffer("means", torch.tensor(MEANS, dtype=torch.float64))
        self.register_buffer("var", torch.tensor(STDS ** 2, dtype=torch.float64))
        self.register_buffer("log_weights", torch.tensor(np.log(WEIGHTS), dtype=torch.float64))
        self.register_buffer("class_weights", torch.tensor(CLASS_WEIGHTS, dtype=torch.float64))

    def denoise(self, x: Tensor, sigma: Tensor, logw: Tensor) -> Tensor:
        s2 = (sigma * sigma).reshape(-1, 1)
        var = self.var.reshape(1, -1) + s2
        diff = x.unsqueeze(1) - self.means.unsqueeze(0)
        d2 = (diff * diff).sum(-1)
        logits = logw - 0.5 * d2 / var - 0.5 * x.size(1) * torch.log(var)
        r = torch.softmax(logits, dim=1)
        post = (self.var.reshape(1, -1, 1) * x.unsqueeze(1) + s2.unsqueeze(-1) * self.means.unsqueeze(0)) / var.unsqueeze(-1)
        return (r.unsqueeze(-1) * post).sum(1)

    def logw(self, n: int, labels: Tensor) -> Tensor:
        if labels.numel() == 0:
            return self.log_weights.reshape(1, -1).expand(n, -1)
        return torch.log(torch.clamp(labels.to(torch.float64) @ self.class_weights, min=1e-300))


class Edm(Mixture):
    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        x = x.double()
        return self.denoise(x, sigma.double(), self.logw(x.size(0), torch.empty(0))).float()


class EdmCond(Mixture):
    def forward(self, x: Tensor, sigma: Tensor, class_labels: Tensor) -> Tensor:
        x = x.double()
        return self.denoise(x, sigma.double(), self.logw(x.size(0), class_labels)).float()


class VpEps(Mixture):
    def __init__(self, beta_min: float, beta_max: float, time_scale: float):
        super().__init__()
        self.beta_min = beta_min
        self.beta_d = beta_max - beta_min
        self.time_scale = time_scale

    def eps(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        t = t.double() / self.time_scale
        sigma = torch.sqrt(torch.expm1(self.beta_min * t + 0.5 * self.beta_d * t * t))
        alpha = torch.rsqrt(1 + sigma * sigma).reshape(-1, 1)
        x = x_t.double() / alpha
        d = self.denoise(x, sigma, self.logw(x.size(0), labels))
        return ((x - d) / sigma.reshape(-1, 1)).float()

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        return self.eps(x_t, t, torch.empty(0))


class VpEpsCond(VpEps):
    def forward(self, x_t: Tensor, t: Tensor, class_labels: Tensor) -> Tensor:
        return self.eps(x_t, t, class_labels)


class Ddpm(Mixture):
    def __init__(self, abar: np.ndarray, v_pred: bool):
        super().__init__()
        self.register_buffer("abar", torch.tensor(abar, dtype=torch.float64))
        self.v_pred = v_pred

    def pred(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        abar = self.abar.index_select(0, t).reshape(-1, 1)
        a = torch.sqrt(abar)
        sigma = torch.sqrt((1 - abar) / abar)
        x = x_t.double() / a
        d = self.denoise(x, sigma.reshape(-1), self.logw(x.size(0), labels))
        eps = (x - d) / sigma
        if self.v_pred:
            return (a * eps - torch.sqrt(1 - abar) * d).float()
        return eps.float()

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        return self.pred(x_t, t, torch.empty(0))


class DdpmCond(Ddpm):
    def forward(self, x_t: Tensor, t: Tensor, class_labels: Tensor) -> Tensor:
        return self.pred(x_t, t, class_labels)


def ddpm_alpha_bars(schedule: str, steps: int = 1000) -> np.ndarray:
    if schedule == "linear":
        betas = np.linspace(1e-4, 0.02, steps, dtype=np.float64)
    else:
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = np.array([min(1 - f((i + 1) / steps) / f(i / steps), 0.999) for i in range(steps)])
    return np.cumprod(1 - betas)


# ---- the numpy reference -----------------------------------------------------------------------

def np_denoise(x, sigma, labels=None):
    """Exact mixture D in float64; x [M, D], sigma [M], labels one-hot [M, C] or None."""
    x = x.astype(np.float64)
    sigma = sigma.astype(np.float64)
    s2 = (sigma ** 2)[:, None]
    var = STDS[None, :] ** 2 + s2
    if labels is None:
        logw = np.log(WEIGHTS)[None, :]
    else:
        with np.errstate(divide="ignore"):
            logw = np.log(labels.astype(np.float64) @ CLASS_WEIGHTS)
    d2 = ((x[:, None, :] - MEANS[None, :, :]) ** 2).sum(-1)
    logits = logw - 0.5 * d2 / var - 0.5 * x.shape[1] * np.log(var)
    logits -= logits.max(1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(1, keepdims=True)
    post = ((STDS ** 2)[None, :, None] * x[:, None, :] + s2[:, :, None] * MEANS[None, :, :]) / var[:, :, None]
    return (r[:, :, None] * post).sum(1)


def points(rng, sigmas, per_sigma, classes):
    """float32 x = x0 + sigma * n with x0 drawn from the mixture (or a class of it)."""
    sig = np.repeat(np.asarray(sigmas, dtype=np.float64), per_sigma).astype(np.float32)
    m = sig.shape[0]
    labels = None
    if classes:
        lab = rng.integers(0, classes, size=m)
        labels = np.eye(classes, dtype=np.float32)[lab]
        w = CLASS_WEIGHTS[lab]
    else:
        w = np.tile(WEIGHTS, (m, 1))
    comp = np.array([rng.choice(len(WEIGHTS), p=wi) for wi in w])
    x0 = MEANS[comp] + STDS[comp, None] * rng.standard_normal((m, 2))
    x = (x0 + sig[:, None].astype(np.float64) * rng.standard_normal((m, 2))).astype(np.float32)
    return x, sig, labels


def save(out, name, suffix, x, sigma, d, labels):
    np.save(os.path.join(out, f"{name}{suffix}.x.npy"), x)
    np.save(os.path.join(out, f"{name}{suffix}.sigma.npy"), sigma)
    np.save(os.path.join(out, f"{name}{suffix}.d.npy"), d)
    if labels is not None:
        np.save(os.path.join(out, f"{name}{suffix}.labels.npy"), labels)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(1234)
    continuous = [0.002, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 80.0]
    table_idx = [0, 1, 5, 20, 100, 250, 500, 750, 900, 990, 999]
    between_idx = [0, 3, 50, 400, 800, 998]
    manifest = []

    teachers = [
        ("edm", "edm", "-", 0, 0.1, 20.0, 1.0),
        ("vp_eps", "vp-eps", "-", 0, 0.1, 20.0, 1.0),
        ("ddpm_eps_linear", "ddpm-eps", "linear", 0, 0.1, 20.0, 1.0),
        ("ddpm_v_linear", "ddpm-v", "linear", 0, 0.1, 20.0, 1.0),
        ("ddpm_eps_cosine", "ddpm-eps", "cosine", 0, 0.1, 20.0, 1.0),
        ("ddpm_v_cosine", "ddpm-v", "cosine", 0, 0.1, 20.0, 1.0),
        ("edm_cond", "edm", "-", 2, 0.1, 20.0, 1.0),
        ("vp_eps_cond", "vp-eps", "-", 2, 0.05, 15.0, 999.0),
        ("ddpm_eps_cosine_cond", "ddpm-eps", "cosine", 2, 0.1, 20.0, 1.0),
        ("ddpm_v_linear_cond", "ddpm-v", "linear", 2, 0.1, 20.0, 1.0),
    ]
    for name, kind, schedule, classes, bmin, bmax, tscale in teachers:
        cond = classes > 0
        if kind == "edm":
            net = EdmCond() if cond else Edm()
        elif kind == "vp-eps":
            net = (VpEpsCond if cond else VpEps)(bmin, bmax, tscale)
        else:
            abar = ddpm_alpha_bars(schedule)
            net = (DdpmCond if cond else Ddpm)(abar, kind == "ddpm-v")
        torch.jit.save(torch.jit.script(net), os.path.join(out, name + ".pt"))
        manifest.append(f"{name} {kind} {schedule} {classes} {bmin!r} {bmax!r} {tscale!r}")

        if kind.startswith("ddpm"):
            table = np.sqrt((1 - abar) / abar)
            x, sig, labels = points(rng, table[table_idx], 4, classes)
        else:
            x, sig, labels = points(rng, continuous, 4, classes)
        save(out, name, "", x, sig, np_denoise(x, sig, labels), labels)

        if kind.startswith("ddpm"):
            lo = np.array([table[k] for k in between_idx for _ in (0, 1)])
            hi = np.array([table[k + 1] for k in between_idx for _ in (0, 1)])
            frac = np.array([0.3, 0.7] * len(between_idx))
            mid = lo + frac * (hi - lo)
            x, sig, labels = points(rng, mid, 3, classes)
            s = sig.astype(np.float64)
            k = np.abs(s[:, None] - table[None, :]).argmin(1)
            c_in = 1 / np.sqrt(1 + s ** 2)
            a_k = np.sqrt(abar[k])
            sk = table[k]
            xs = x.astype(np.float64) * c_in[:, None] / a_k[:, None]
            dk = np_denoise(xs, sk, labels)
            eps = (xs - dk) / sk[:, None]
            if kind == "ddpm-eps":
                d = x - s[:, None] * eps
            else:
                v = a_k[:, None] * eps - np.sqrt(1 - abar[k])[:, None] * dk
                d = (c_in ** 2)[:, None] * x - (s * c_in)[:, None] * v
            save(out, name, ".between", x, sig, d, labels)
            np.save(os.path.join(out, f"{name}.between.index.npy"), k.astype(np.int64))

    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
