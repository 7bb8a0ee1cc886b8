"""Network architectures (any genomap shape, not only square)."""
from __future__ import annotations

import torch
from torch import nn


class GenoNet(nn.Module):
    """The reference's genoNet: conv3x3(8) -> ReLU -> fc(100) -> ReLU -> dropout(0.25) -> fc(out).

    Input (batch, 1, rows, cols) float32; output (batch, n_out) (logits or regression values).
    The reference reads one side of the image as both sides; this works for any rows x cols.
    """

    def __init__(self, rows: int, cols: int, n_out: int, channels: int = 8, hidden: int = 100,
                 dropout: float = 0.25):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(channels * rows * cols, hidden)
        # activations as modules (no parameters: saved models load as before), so that
        # DeepLIFT (captum) applies its rule to each
        self.relu_conv = nn.ReLU()
        self.relu_fc = nn.ReLU()
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, hidden) activations before the output layer."""
        x = self.relu_conv(self.conv(x))
        return self.relu_fc(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.features(x)))
