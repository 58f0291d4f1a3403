"""EDM's four preconditionings as one scriptable module, and the exported teacher classes.

Every preconditioning is ``D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)`` (EDM paper, Table 1):

    kind    c_skip              c_out                   c_in                c_noise
    edm     sd^2/(s^2+sd^2)     s sd/sqrt(s^2+sd^2)     1/sqrt(s^2+sd^2)    ln(s)/4
    vp      1                   -s                      1/sqrt(s^2+1)       (M-1) t(s), t the VP-SDE inverse
    ve      1                   s                       1                   ln(s/2)
    iddpm   1                   -s                      1/sqrt(s^2+1)       M-1-j, j the nearest level u_j

so every import is already the EDM denoiser the tool trains with, whatever the network was trained as.
``Teacher`` / ``TeacherCond`` are what import writes; ``EDMPrecond``, ``VPPrecond``, ``VEPrecond``
and ``iDDPMPrecond`` take EDM's constructor arguments (tests use them to write EDM-format pickles).
"""
import math
from typing import Optional

import torch
from torch import Tensor

from edm_nets import EDM, VP, VE, IDDPM, MODELS


def vp_sigma(beta_d, beta_min, t):
    return math.sqrt(math.expm1(0.5 * beta_d * t * t + beta_min * t))


def iddpm_levels(M, C_1, C_2):
    """iDDPM's noise levels u_0 > ... > u_M = 0 (the cosine schedule, steps clipped by C_1)."""
    def alpha_bar(j):
        return math.sin(0.5 * math.pi * j / M / (C_2 + 1)) ** 2
    u = torch.zeros(M + 1)
    for j in range(M, 0, -1):
        u[j - 1] = ((u[j] ** 2 + 1) / max(alpha_bar(j - 1) / alpha_bar(j), C_1) - 1).sqrt()
    return u


class Precond(torch.nn.Module):
    # kind: EDM, VP, VE or IDDPM of edm_nets (literals in the scripted code: TorchScript
    # does not read module-level ints)
    def __init__(self, kind: int, img_resolution: int, img_channels: int, label_dim: int, model: torch.nn.Module,
                 sigma_min: float, sigma_max: float, sigma_data: float = 0.5, beta_d: float = 19.9,
                 beta_min: float = 0.1, M: int = 1000, u: Optional[Tensor] = None, use_fp16: bool = False):
        super().__init__()
        self.kind = int(kind)
        self.img_resolution = int(img_resolution)
        self.img_channels = int(img_channels)
        self.label_dim = int(label_dim)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.sigma_data = float(sigma_data)
        self.beta_d = float(beta_d)
        self.beta_min = float(beta_min)
        self.M = int(M)
        self.use_fp16 = bool(use_fp16)  # recorded only: the export runs in float32
        self.model = model
        # iDDPM's table of levels; a placeholder for the other kinds (see edm_pickle.load_into)
        self.register_buffer('u', u if u is not None else torch.zeros(1))

    def denoise(self, x: Tensor, sigma: Tensor, class_labels: Optional[Tensor]) -> Tensor:
        x = x.to(torch.float32)
        sigma = sigma.to(torch.float32).reshape(-1, 1, 1, 1)
        labels: Optional[Tensor] = None
        if self.label_dim > 0:
            labels = torch.zeros([1, self.label_dim], device=x.device) if class_labels is None \
                else class_labels.to(torch.float32).reshape(-1, self.label_dim)
        if self.kind == 0:  # EDM
            sd = self.sigma_data
            c_skip = sd * sd / (sigma * sigma + sd * sd)
            c_out = sigma * sd / (sigma * sigma + sd * sd).sqrt()
            c_in = 1 / (sd * sd + sigma * sigma).sqrt()
            c_noise = sigma.log() / 4
        elif self.kind == 1:  # VP
            c_skip = torch.ones_like(sigma)
            c_out = -sigma
            c_in = 1 / (sigma * sigma + 1).sqrt()
            t = ((self.beta_min ** 2 + 2 * self.beta_d * (1 + sigma * sigma).log()).sqrt() - self.beta_min) / self.beta_d
            c_noise = (self.M - 1) * t
        elif self.kind == 2:  # VE
            c_skip = torch.ones_like(sigma)
            c_out = sigma
            c_in = torch.ones_like(sigma)
            c_noise = (0.5 * sigma).log()
        else:
            c_skip = torch.ones_like(sigma)
            c_out = -sigma
            c_in = 1 / (sigma * sigma + 1).sqrt()
            c_noise = self.M - 1 - self.level_index(sigma).to(torch.float32)
        F = self.model(c_in * x, c_noise.flatten(), labels)
        return c_skip * x + c_out * F[:, :self.img_channels].to(torch.float32)

    def level_index(self, sigma: Tensor) -> Tensor:
        s = sigma.to(self.u.device).to(torch.float32)
        index = torch.cdist(s.reshape(1, -1, 1), self.u.reshape(1, -1, 1)).argmin(2)
        return index.reshape(sigma.shape).to(sigma.device)

    @torch.jit.export
    def round_sigma(self, sigma: Tensor) -> Tensor:
        """The noise level the network actually sees: iDDPM's nearest table level, else sigma."""
        if self.kind != 3:  # not iDDPM
            return sigma
        return self.u[self.level_index(sigma).flatten()].reshape(sigma.shape).to(sigma.dtype)


class Teacher(Precond):
    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.denoise(x, sigma, None)


class TeacherCond(Precond):
    def forward(self, x: Tensor, sigma: Tensor, class_labels: Tensor) -> Tensor:
        return self.denoise(x, sigma, class_labels)


def _model(model_type, img_resolution, in_channels, out_channels, label_dim, model_kwargs):
    # looked up by name at call time, as EDM does, so that a decorated class in globals() is used
    cls = globals().get(model_type) or MODELS[model_type]
    return cls(img_resolution=img_resolution, in_channels=in_channels, out_channels=out_channels,
               label_dim=label_dim, **model_kwargs)


class _Named(Precond):
    def forward(self, x, sigma, class_labels=None, force_fp32=False, **model_kwargs):
        return self.denoise(x, sigma, class_labels)


class EDMPrecond(_Named):
    def __init__(self, img_resolution, img_channels, label_dim=0, use_fp16=False, sigma_min=0,
                 sigma_max=float('inf'), sigma_data=0.5, model_type='DhariwalUNet', **model_kwargs):
        net = _model(model_type, img_resolution, img_channels, img_channels, label_dim, model_kwargs)
        super().__init__(EDM, img_resolution, img_channels, label_dim, net, sigma_min, sigma_max,
                         sigma_data=sigma_data, use_fp16=use_fp16)


class VPPrecond(_Named):
    def __init__(self, img_resolution, img_channels, label_dim=0, use_fp16=False, beta_d=19.9, beta_min=0.1,
                 M=1000, epsilon_t=1e-5, model_type='SongUNet', **model_kwargs):
        net = _model(model_type, img_resolution, img_channels, img_channels, label_dim, model_kwargs)
        super().__init__(VP, img_resolution, img_channels, label_dim, net, vp_sigma(beta_d, beta_min, epsilon_t),
                         vp_sigma(beta_d, beta_min, 1.0), beta_d=beta_d, beta_min=beta_min, M=M, use_fp16=use_fp16)


class VEPrecond(_Named):
    def __init__(self, img_resolution, img_channels, label_dim=0, use_fp16=False, sigma_min=0.02,
                 sigma_max=100, model_type='SongUNet', **model_kwargs):
        net = _model(model_type, img_resolution, img_channels, img_channels, label_dim, model_kwargs)
        super().__init__(VE, img_resolution, img_channels, label_dim, net, sigma_min, sigma_max, use_fp16=use_fp16)


class iDDPMPrecond(_Named):
    def __init__(self, img_resolution, img_channels, label_dim=0, use_fp16=False, C_1=0.001, C_2=0.008,
                 M=1000, model_type='DhariwalUNet', **model_kwargs):
        net = _model(model_type, img_resolution, img_channels, img_channels * 2, label_dim, model_kwargs)
        u = iddpm_levels(M, C_1, C_2)
        super().__init__(IDDPM, img_resolution, img_channels, label_dim, net, float(u[M - 1]), float(u[0]),
                         M=M, u=u, use_fp16=use_fp16)
