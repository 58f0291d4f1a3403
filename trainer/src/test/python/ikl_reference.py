"""Independent PyTorch reference for one Diff-Instruct generator gradient.

Usage: ikl_reference.py DIR
DIR holds generator.pt, teacher.pt, fake.pt (TorchScript, EDM convention for the denoisers) and
z.npy, sigma.npy, eps.npy, written by the Java test. For each weighting this script computes the
gradient of the generator's objective with respect to the generator's parameters, in float64 and
without the surrogate-loss trick the trainer uses:

  sigma2, dmd: the integral-KL gradient as a vector-Jacobian product,
      d/dtheta = (1/N) sum_i (dx_i/dtheta)^T  w(sigma_i) (s_fake - s_teacher)(x_i + sigma_i eps_i)
      with scores s(y) = (D(y, sigma) - y) / sigma^2 and
      w = sigma^2 (sigma2) or sigma^2 / mean|x_i - D_teacher| (dmd);
  sid: Score-identity Distillation's generator loss in its published form,
      (1 - alpha) |D_t - D_f|^2 + (D_t - D_f) . (D_f - x), per sample over mean|x - D_t|,
      differentiated through x and the denoisers' inputs.

It writes grad_<weighting>.npy (all parameter gradients flattened and concatenated, in
parameter order).
"""
import sys

import numpy as np
import torch

import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
ALPHA = 1.2


def main(d):
    torch.set_grad_enabled(True)
    gen = torch.jit.load(f"{d}/generator.pt").to(torch.float64)
    teacher = torch.jit.load(f"{d}/teacher.pt").to(torch.float64)
    fake = torch.jit.load(f"{d}/fake.pt").to(torch.float64)
    for m in (gen, teacher, fake):
        m.eval()
    z = torch.from_numpy(np.load(f"{d}/z.npy")).double()
    sigma = torch.from_numpy(np.load(f"{d}/sigma.npy")).double()
    eps = torch.from_numpy(np.load(f"{d}/eps.npy")).double()
    params = list(gen.parameters())
    n = z.shape[0]
    s = sigma.view(-1, *([1] * (eps.dim() - 1)))
    red = list(range(1, eps.dim()))

    for weighting in ("sigma2", "dmd"):
        x = gen(z)
        y = x.detach() + s * eps
        with torch.no_grad():
            d_teacher = teacher(y, sigma)
            score_teacher = (d_teacher - y) / s ** 2
            score_fake = (fake(y, sigma) - y) / s ** 2
            w = s ** 2
            if weighting == "dmd":
                w = w / (x.detach() - d_teacher).abs().mean(dim=red, keepdim=True).clamp_min(1e-5)
            gx = w * (score_fake - score_teacher) / n
        grads = torch.autograd.grad(x, params, grad_outputs=gx)
        np.save(f"{d}/grad_{weighting}.npy", torch.cat([g.reshape(-1) for g in grads]).numpy())

    x = gen(z)
    y = x + s * eps
    d_t, d_f = teacher(y, sigma), fake(y, sigma)
    norm = (x - d_t).abs().mean(dim=red).clamp_min(1e-5).detach()
    diff = d_t - d_f
    per_sample = ((1 - ALPHA) * (diff ** 2).sum(dim=red) + (diff * (d_f - x)).sum(dim=red)) / norm
    grads = torch.autograd.grad(per_sample.sum() / n, params)
    np.save(f"{d}/grad_sid.npy", torch.cat([g.reshape(-1) for g in grads]).numpy())
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
