"""A small CNN for Fashion-MNIST whose penultimate layer is the FID feature space.

Inputs are 1x28x28 images in [-1, 1]. The TorchScript export has
  forward(x) -> features [N, 128]   (post-ReLU penultimate activations: the FID features)
  logits(x)  -> class logits [N, 10]
and is saved in eval mode (BatchNorm running statistics, no dropout), so both are deterministic.
"""
import torch
import warnings

# PyTorch 2.13+ deprecates torch.jit in Python (2.14 warns on every call); the C++ torch::jit this tool runs on stays
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
from torch import nn
from torch import Tensor

FEATURES = 128


class FashionClassifier(nn.Module):
    def __init__(self, features: int = FEATURES, classes: int = 10, dropout: float = 0.3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 28 -> 14
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 14 -> 7
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 7 -> 3
        )
        self.fc = nn.Linear(128 * 3 * 3, features)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(features, classes)
        self.num_features = features

    def forward(self, x: Tensor) -> Tensor:
        """Penultimate-layer features [N, F] (the FID feature network)."""
        h = self.body(x)
        return torch.relu(self.fc(h.flatten(1)))

    @torch.jit.export
    def logits(self, x: Tensor) -> Tensor:
        """Class logits [N, classes]."""
        return self.head(self.dropout(self.forward(x)))
