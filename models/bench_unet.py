"""Times one EDM training step (forward + backward + Adam) of models/unet.py at a given batch.

  /usr/bin/python3 models/bench_unet.py --batch 128 --threads 2 [--classes 10] [--channels 32]
"""
import argparse
import os
import sys
import time

import torch

import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--channels", type=int, default=unet.DEFAULT_CHANNELS)
    p.add_argument("--mults", default=",".join(map(str, unet.DEFAULT_MULTS)))
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--script", action="store_true", help="time the torch.jit.script'ed module")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = unet.build(classes=a.classes, model_channels=a.channels, mults=[int(m) for m in a.mults.split(",")],
                     blocks=a.blocks)
    if a.script:
        net = torch.jit.script(net)
    net.train()
    params = sum(q.numel() for q in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    n, sd = a.batch, 0.5
    x0 = torch.rand(n, 1, 28, 28) * 2 - 1
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (n,)), 10).float() if a.classes else None
    times = []
    for i in range(a.steps + 2):
        t = time.perf_counter()
        sigma = (torch.randn(n) * 1.2 - 1.2).exp()
        xn = x0 + torch.randn_like(x0) * sigma.reshape(-1, 1, 1, 1)
        d = net(xn, sigma, y) if a.classes else net(xn, sigma)
        w = ((sigma ** 2 + sd ** 2) / (sigma * sd) ** 2).reshape(-1, 1, 1, 1)
        loss = (w * (d - x0) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"channels {a.channels} mults {a.mults}  params {params}  batch {n}  threads {a.threads}  script {a.script}  "
          f"step median {times[len(times) // 2]:.3f} s  min {times[0]:.3f} s  (load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
