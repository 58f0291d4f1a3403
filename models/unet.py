"""A small EDM-preconditioned UNet for 1x28x28 images in [-1, 1] (Karras et al. 2022, "EDM").

  D(x, sigma) = c_skip(sigma) * x + c_out(sigma) * F(c_in(sigma) * x, c_noise(sigma))
  c_skip = sd^2 / (sigma^2 + sd^2), c_out = sigma * sd / sqrt(sigma^2 + sd^2),
  c_in = 1 / sqrt(sigma^2 + sd^2),  c_noise = log(sigma) / 4,        sd = sigma_data = 0.5

F is a UNet over 28 -> 14 -> 7 with GroupNorm + SiLU residual blocks; the noise level enters every
residual block through a positional embedding of c_noise (plus, in the class-conditional variant,
a linear map of the one-hot label), as in EDM's DDPM++ / ADM networks. One self-attention block
runs at 7x7.

Two TorchScript-friendly top modules share the backbone:
  EDMUNet(...)      forward(x[N,C,H,W], sigma[N]) -> D(x, sigma)
  EDMUNetCond(...)  forward(x[N,C,H,W], sigma[N], class_labels[N, label_dim]) -> D(x, sigma | y)
Both carry the attributes sigma_data (float), img_channels, img_resolution, label_dim (int).
"""
import math
from typing import List

import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
from torch import nn, Tensor
import torch.nn.functional as F


DEFAULT_CHANNELS = 16
DEFAULT_MULTS = [1, 2, 4]  # 16, 32, 64 channels at 28x28, 14x14, 7x7


def _groups(ch: int) -> int:
    for g in (32, 16, 8, 4, 2, 1):
        if ch % g == 0 and ch // g >= 4:
            return g
    return 1


class PositionalEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar per sample (EDM's DDPM++ uses this for c_noise)."""

    def __init__(self, num_channels: int, max_positions: int = 10000):
        super().__init__()
        half = num_channels // 2
        freqs = torch.arange(half, dtype=torch.float32) / half
        self.register_buffer("freqs", (1.0 / max_positions) ** freqs)

    def forward(self, x: Tensor) -> Tensor:
        x = x.to(torch.float32).reshape(-1, 1) * self.freqs.reshape(1, -1)
        return torch.cat([x.cos(), x.sin()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, emb_ch: int, dropout: float):
        super().__init__()
        self.norm0 = nn.GroupNorm(_groups(in_ch), in_ch)
        self.conv0 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.affine = nn.Linear(emb_ch, out_ch)
        self.norm1 = nn.GroupNorm(_groups(out_ch), out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        # zero-initialised last conv: each block starts as (nearly) the identity
        nn.init.zeros_(self.conv1.weight)
        nn.init.zeros_(self.conv1.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.affine(emb).unsqueeze(-1).unsqueeze(-1)
        h = self.conv1(self.dropout(F.silu(self.norm1(h))))
        return (h + self.skip(x)) * (1.0 / math.sqrt(2.0))


class Attention(nn.Module):
    def __init__(self, ch: int, heads: int = 1):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(ch), ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        n, c, hh, ww = x.shape
        qkv = self.qkv(self.norm(x)).reshape(n * self.heads, 3, c // self.heads, hh * ww)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
        w = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c // self.heads), dim=2)  # [B, L, L]
        a = torch.bmm(v, w.transpose(1, 2)).reshape(n, c, hh, ww)
        return (x + self.proj(a)) * (1.0 / math.sqrt(2.0))


class Backbone(nn.Module):
    """F(x_in, emb): UNet over len(mults) resolutions (28 -> 14 -> 7 with 3 entries)."""

    def __init__(self, img_channels: int, model_channels: int, mults: List[int], emb_ch: int,
                 dropout: float, blocks: int):
        super().__init__()
        self.conv_in = nn.Conv2d(img_channels, model_channels, 3, padding=1)
        chans: List[int] = [model_channels * m for m in mults]
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        skips: List[int] = [model_channels]
        ch = model_channels
        for level, c in enumerate(chans):
            for _ in range(blocks):
                self.enc.append(ResBlock(ch, c, emb_ch, dropout))
                ch = c
                skips.append(ch)
            if level < len(chans) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid0 = ResBlock(ch, ch, emb_ch, dropout)
        self.mid_attn = Attention(ch)
        self.mid1 = ResBlock(ch, ch, emb_ch, dropout)
        self.dec = nn.ModuleList()
        self.up = nn.ModuleList()
        for level in range(len(chans) - 1, -1, -1):
            c = chans[level]
            for _ in range(blocks + 1):
                self.dec.append(ResBlock(ch + skips.pop(), c, emb_ch, dropout))
                ch = c
            if level > 0:
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.norm_out = nn.GroupNorm(_groups(ch), ch)
        self.conv_out = nn.Conv2d(ch, img_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.levels = len(chans)
        self.blocks = blocks

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv_in(x)
        hs: List[Tensor] = [h]
        i = 0
        for level in range(self.levels):
            for _ in range(self.blocks):
                h = self._enc(i, h, emb)
                hs.append(h)
                i += 1
            if level < self.levels - 1:
                h = self._down(level, h)
                hs.append(h)
        h = self.mid1(self.mid_attn(self.mid0(h, emb)), emb)
        i = 0
        for level in range(self.levels):
            for _ in range(self.blocks + 1):
                h = self._dec(i, torch.cat([h, hs.pop()], dim=1), emb)
                i += 1
            if level < self.levels - 1:
                h = self._up(level, h, hs[-1].shape[-2], hs[-1].shape[-1])
        return self.conv_out(F.silu(self.norm_out(h)))

    # TorchScript cannot index a ModuleList with a variable; iterate to the i-th entry instead.
    def _enc(self, i: int, h: Tensor, emb: Tensor) -> Tensor:
        for j, m in enumerate(self.enc):
            if j == i:
                h = m(h, emb)
        return h

    def _dec(self, i: int, h: Tensor, emb: Tensor) -> Tensor:
        for j, m in enumerate(self.dec):
            if j == i:
                h = m(h, emb)
        return h

    def _down(self, i: int, h: Tensor) -> Tensor:
        for j, m in enumerate(self.down):
            if j == i:
                h = m(h)
        return h

    def _up(self, i: int, h: Tensor, height: int, width: int) -> Tensor:
        for j, m in enumerate(self.up):
            if j == i:
                h = m(F.interpolate(h, size=[height, width], mode="nearest"))
        return h


class _EDMBase(nn.Module):
    def __init__(self, img_channels: int = 1, img_resolution: int = 28, label_dim: int = 0,
                 model_channels: int = DEFAULT_CHANNELS, mults: List[int] = DEFAULT_MULTS, emb_ch: int = 128,
                 dropout: float = 0.1, blocks: int = 1, sigma_data: float = 0.5):
        super().__init__()
        self.sigma_data = sigma_data
        self.img_channels = img_channels
        self.img_resolution = img_resolution
        self.label_dim = label_dim
        self.map_noise = PositionalEmbedding(model_channels)
        self.map_layer0 = nn.Linear(model_channels, emb_ch)
        self.map_layer1 = nn.Linear(emb_ch, emb_ch)
        self.net = Backbone(img_channels, model_channels, list(mults), emb_ch, dropout, blocks)

    def _precond(self, x: Tensor, sigma: Tensor, cond: Tensor) -> Tensor:
        sd = self.sigma_data
        x = x.to(torch.float32)
        sigma = sigma.to(torch.float32).reshape(-1, 1, 1, 1)
        s2 = sigma * sigma + sd * sd
        c_skip = (sd * sd) / s2
        c_out = sigma * sd / s2.sqrt()
        c_in = 1.0 / s2.sqrt()
        c_noise = sigma.log().reshape(-1) / 4.0
        emb = self.map_noise(c_noise) + cond
        emb = F.silu(self.map_layer1(F.silu(self.map_layer0(emb))))
        f = self.net(c_in * x, emb)
        return c_skip * x + c_out * f


class EDMUNet(_EDMBase):
    """Unconditional: forward(x[N,C,H,W], sigma[N]) -> D(x, sigma)."""

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self._precond(x, sigma, torch.zeros(1, 1, dtype=torch.float32, device=x.device))


class EDMUNetCond(_EDMBase):
    """Class-conditional: forward(x, sigma, class_labels[N, label_dim] one-hot) -> D(x, sigma | y)."""

    def __init__(self, label_dim: int = 10, **kw):
        super().__init__(label_dim=label_dim, **kw)
        self.map_label = nn.Linear(label_dim, kw.get("model_channels", DEFAULT_CHANNELS), bias=False)

    def forward(self, x: Tensor, sigma: Tensor, class_labels: Tensor) -> Tensor:
        cond = self.map_label(class_labels.to(torch.float32) * math.sqrt(self.label_dim))
        return self._precond(x, sigma, cond)


def build(classes: int = 0, dropout: float = 0.1, **kw) -> nn.Module:
    if classes > 0:
        return EDMUNetCond(label_dim=classes, dropout=dropout, **kw)
    return EDMUNet(dropout=dropout, **kw)
