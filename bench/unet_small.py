"""A small EDM-preconditioned conv UNet for 1x28x28 images, for the compute-bound benchmark.

Used only when models/export_unet.py (the project's UNet) is absent: bench/compare.sh prefers that.
Random weights; GroupNorm + SiLU residual blocks at 28x28 (16 ch) and 14x14 (32 ch) with a noise
embedding and dropout (default 0.1, as EDM's networks), one skip connection. Saved in eval mode.

  /usr/bin/python3 bench/unet_small.py --out teacher.pt [--dropout 0.1] [--seed 0]
"""
import argparse
import math

import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
from torch import Tensor, nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, dropout: float):
        super().__init__()
        self.norm0 = nn.GroupNorm(4, cin)
        self.conv0 = nn.Conv2d(cin, cout, 3, padding=1)
        self.affine = nn.Linear(emb, cout)
        self.norm1 = nn.GroupNorm(4, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.affine(emb).unsqueeze(-1).unsqueeze(-1)
        h = self.conv1(self.dropout(F.silu(self.norm1(h))))
        return (h + self.skip(x)) / math.sqrt(2)


class SmallEDMUNet(nn.Module):
    def __init__(self, ch: int = 16, emb: int = 64, dropout: float = 0.1, sigma_data: float = 0.5):
        super().__init__()
        self.sigma_data = sigma_data
        self.data_shape = [1, 28, 28]
        half = emb // 4
        self.register_buffer("freqs", (1.0 / 10000) ** (torch.arange(half, dtype=torch.float32) / half))
        self.map0 = nn.Linear(2 * half, emb)
        self.map1 = nn.Linear(emb, emb)
        self.conv_in = nn.Conv2d(1, ch, 3, padding=1)
        self.enc0 = ResBlock(ch, ch, emb, dropout)
        self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.enc1 = ResBlock(2 * ch, 2 * ch, emb, dropout)
        self.mid = ResBlock(2 * ch, 2 * ch, emb, dropout)
        self.up = nn.Conv2d(2 * ch, ch, 3, padding=1)
        self.dec0 = ResBlock(2 * ch, ch, emb, dropout)
        self.norm_out = nn.GroupNorm(4, ch)
        self.conv_out = nn.Conv2d(ch, 1, 3, padding=1)

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        sd = self.sigma_data
        s = sigma.to(x.dtype).reshape(-1, 1, 1, 1)
        c_skip = sd * sd / (s * s + sd * sd)
        c_out = s * sd / torch.sqrt(s * s + sd * sd)
        c_in = 1.0 / torch.sqrt(s * s + sd * sd)
        c_noise = (torch.log(sigma) / 4).reshape(-1, 1) * self.freqs.reshape(1, -1)
        emb = torch.cat([c_noise.cos(), c_noise.sin()], dim=1)
        emb = F.silu(self.map1(F.silu(self.map0(emb))))
        h0 = self.enc0(self.conv_in(c_in * x), emb)
        h = self.enc1(self.down(h0), emb)
        h = self.mid(h, emb)
        h = self.up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.dec0(torch.cat([h, h0], dim=1), emb)
        f = self.conv_out(F.silu(self.norm_out(h)))
        return c_skip * x + c_out * f


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    m = torch.jit.script(SmallEDMUNet(dropout=a.dropout).eval())
    m.save(a.out)
    n = sum(t.numel() for t in m.parameters())
    print(f"wrote {a.out}: {n} parameters")


if __name__ == "__main__":
    main()
