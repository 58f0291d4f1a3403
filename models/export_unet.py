"""Writes a randomly initialised EDM UNet (models/unet.py) as a TorchScript file.

  /usr/bin/python3 models/export_unet.py --out teacher-init.pt [--classes 10] [--seed 0] [--dropout 0.1]

The file loads with torch.jit.load (Python) or ScriptModule.load (Java):
  unconditional:      forward(Tensor x, Tensor sigma) -> Tensor
  --classes K (K>0):  forward(Tensor x, Tensor sigma, Tensor class_labels) -> Tensor   (one-hot [N, K])
x is [N, 1, 28, 28] in [-1, 1], sigma is [N]; the result is the EDM denoiser D(x, sigma).
Attributes: sigma_data (float), img_channels, img_resolution, label_dim (int).
The module is saved in eval mode (dropout off) unless --train-mode is given; a trainer should call
train(true) itself before optimising it.
"""
import argparse
import os
import sys

import torch

import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unet  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--classes", type=int, default=0, help="0: unconditional; K: class-conditional on one-hot [N, K]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--channels", type=int, default=unet.DEFAULT_CHANNELS, help="channels at 28x28")
    p.add_argument("--mults", default=",".join(map(str, unet.DEFAULT_MULTS)),
                   help="channel multipliers per resolution (28, 14, 7): comma-separated")
    p.add_argument("--blocks", type=int, default=1, help="residual blocks per resolution in the encoder")
    p.add_argument("--train-mode", action="store_true", help="save in training mode (dropout on)")
    a = p.parse_args()
    if a.classes < 0:
        p.error("--classes must be >= 0")
    if not 0.0 <= a.dropout < 1.0:
        p.error("--dropout must be in [0, 1)")

    torch.manual_seed(a.seed)
    mults = [int(m) for m in a.mults.split(",")]
    net = unet.build(classes=a.classes, dropout=a.dropout, model_channels=a.channels, mults=mults, blocks=a.blocks)
    net.train(a.train_mode)
    scripted = torch.jit.script(net)
    out = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, out)

    # check what was written
    m = torch.jit.load(out)
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    sigma = torch.tensor([0.1, 2.0])
    args = [x, sigma]
    if a.classes:
        args.append(torch.nn.functional.one_hot(torch.tensor([0, a.classes - 1]), a.classes).float())
    with torch.no_grad():
        d = m(*args)
    assert d.shape == x.shape and torch.isfinite(d).all()
    params = sum(q.numel() for q in m.parameters())
    print(f"wrote {out}: {type(net).__name__}, {params} parameters, classes {a.classes}, dropout {a.dropout}, "
          f"seed {a.seed}, {'train' if a.train_mode else 'eval'} mode")
    print(m.forward.schema)


if __name__ == "__main__":
    main()
