"""Trains a small DCGAN on Fashion-MNIST: the GAN that `diffinstruct refine` improves (README, "Refining a GAN").

  /usr/bin/python3 models/train_gan.py --out assets/fashion-mnist/gan --epochs 3

Writes OUT/gan.pt (the generator as TorchScript in eval mode: forward(z [N, 64]) -> x [N, 1, 28, 28]
in [-1, 1], tanh output, batch norm with its running statistics; attributes latent_shape [64] and
data_shape [1, 28, 28]), OUT/discriminator.pt (TorchScript, forward(x) -> logits [N]) and
OUT/train_gan.json (the command's settings, per-epoch losses and wall time). The generator is the
DCGAN recipe (Radford et al. 2016) at 28x28: linear to 128x7x7, two stride-2 transposed convolutions
with batch norm and ReLU; the discriminator two stride-2 convolutions with leaky ReLU. Non-saturating
loss, Adam 2e-4 (0.5, 0.999), batch 64. A few epochs leave it recognisably imperfect on purpose.
"""
import argparse
import json
import os
import sys
import time
import warnings

import torch
from torch import nn

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402

LATENT = 64


class Generator(nn.Module):
    def __init__(self, latent: int = LATENT, ch: int = 64):
        super().__init__()
        self.latent_shape = [latent]
        self.data_shape = [1, 28, 28]
        self.fc = nn.Linear(latent, 2 * ch * 7 * 7, bias=False)
        self.bn0 = nn.BatchNorm1d(2 * ch * 7 * 7)
        self.up1 = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1, bias=False)  # 7 -> 14
        self.bn1 = nn.BatchNorm2d(ch)
        self.up2 = nn.ConvTranspose2d(ch, 1, 4, stride=2, padding=1)  # 14 -> 28
        self.ch = ch

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn0(self.fc(z))).reshape(-1, 2 * self.ch, 7, 7)
        h = torch.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class Discriminator(nn.Module):
    def __init__(self, ch: int = 64):
        super().__init__()
        self.c1 = nn.Conv2d(1, ch, 4, stride=2, padding=1)  # 28 -> 14
        self.c2 = nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1)  # 14 -> 7
        self.bn2 = nn.BatchNorm2d(2 * ch)
        self.fc = nn.Linear(2 * ch * 7 * 7, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.leaky_relu(self.c1(x), 0.2)
        h = nn.functional.leaky_relu(self.bn2(self.c2(h)), 0.2)
        return self.fc(h.flatten(1)).squeeze(1)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, help="folder for gan.pt, discriminator.pt, train_gan.json")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images (smoke tests)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    x, _ = fashion_mnist.load("train")
    x = torch.from_numpy(x[:a.limit] if a.limit else x)
    G, D = Generator(), Discriminator()
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=a.lr, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    steps = int(a.epochs * len(x) / a.batch)
    per_epoch = max(1, len(x) // a.batch)
    log, sums = [], [0.0, 0.0, 0]
    for step in range(1, steps + 1):
        real = x[torch.randint(len(x), (a.batch,))]
        fake = G(torch.randn(a.batch, LATENT))
        # discriminator: real -> 1, fake -> 0
        loss_d = bce(D(real), torch.ones(a.batch)) + bce(D(fake.detach()), torch.zeros(a.batch))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator: non-saturating, fake -> 1
        loss_g = bce(D(fake), torch.ones(a.batch))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        sums[0] += loss_d.item()
        sums[1] += loss_g.item()
        sums[2] += 1
        if step % per_epoch == 0 or step == steps:
            entry = dict(step=step, epoch=round(step / per_epoch, 2), loss_d=sums[0] / sums[2], loss_g=sums[1] / sums[2],
                         seconds=round(time.time() - t0, 1))
            log.append(entry)
            print(json.dumps(entry), flush=True)
            sums = [0.0, 0.0, 0]
    G.eval()
    D.eval()
    torch.jit.script(G).save(os.path.join(a.out, "gan.pt"))
    torch.jit.script(D).save(os.path.join(a.out, "discriminator.pt"))
    info = dict(command=" ".join(sys.argv), torch=torch.__version__, settings=vars(a), steps=steps,
                generator_parameters=sum(q.numel() for q in G.parameters()),
                discriminator_parameters=sum(q.numel() for q in D.parameters()),
                seconds=round(time.time() - t0, 1), log=log)
    with open(os.path.join(a.out, "train_gan.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {a.out}/gan.pt ({info['generator_parameters']} parameters), discriminator.pt; {info['seconds']} s")


if __name__ == "__main__":
    main()
