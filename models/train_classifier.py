"""Trains models/classifier.py on Fashion-MNIST's training split and exports the FID feature net.

  /usr/bin/python3 models/train_classifier.py --out assets/fashion-mnist/features.pt

Reads the IDX files from $FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist). Prints the
test accuracy after every epoch; the exported TorchScript is in eval mode with forward(x) -> [N, 128]
features and logits(x) -> [N, 10].
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from classifier import FashionClassifier  # noqa: E402


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model.logits(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images (smoke tests)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    xtr, ytr = fashion_mnist.load("train")
    xte, yte = fashion_mnist.load("test")
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    xtr, ytr, xte, yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    print(f"train {tuple(xtr.shape)} test {tuple(xte.shape)} range [{xtr.min():.1f}, {xtr.max():.1f}]", flush=True)

    model = FashionClassifier()
    print(f"parameters: {sum(q.numel() for q in model.parameters())}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps_per_epoch = (len(xtr) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(a.seed)
    history = []
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        running, seen, te = 0.0, 0, time.time()
        for s in range(steps_per_epoch):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            xb, yb = xtr[idx], ytr[idx]
            # random horizontal flips: clothes are (nearly) mirror-symmetric
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model.logits(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
            seen += len(idx)
            if (s + 1) % 100 == 0:
                print(f"epoch {epoch + 1} step {s + 1}/{steps_per_epoch} loss {running / seen:.4f} "
                      f"({time.time() - te:.0f} s)", flush=True)
        acc = accuracy(model, xte, yte)
        history.append({"epoch": epoch + 1, "train_loss": running / seen, "test_accuracy": acc})
        print(f"epoch {epoch + 1}: train loss {running / seen:.4f}, test accuracy {acc:.4f}, "
              f"epoch {time.time() - te:.0f} s, total {time.time() - t0:.0f} s", flush=True)

    model.eval()
    scripted = torch.jit.script(model)
    out = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, out)
    # the saved file must give the same answers
    loaded = torch.jit.load(out)
    acc = accuracy(loaded, xte, yte)
    feats = loaded(xte[:4])
    wall = time.time() - t0
    summary = {"test_accuracy": acc, "epochs": a.epochs, "wall_seconds": round(wall, 1),
               "threads": a.threads, "batch": a.batch, "lr": a.lr, "seed": a.seed,
               "features": int(feats.shape[1]), "history": history}
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(summary, f, indent=2)
    print(f"saved {out} ({os.path.getsize(out)} bytes): test accuracy {acc:.4f}, "
          f"features {tuple(feats.shape)}, wall {wall:.0f} s", flush=True)


if __name__ == "__main__":
    main()
