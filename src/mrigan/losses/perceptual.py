"""Perceptual (feature) loss on a frozen feature network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class PerceptualLoss(nn.Module):
    """Weighted L1 distance between feature maps of prediction and target (Johnson et al., 2016).

    loss = sum over layers l of weights[l] * mean |phi_l(prediction) - phi_l(target)|.

    The feature network is frozen (no gradients to its parameters) and kept in eval mode even when the loss
    module is put in train mode. Gradients flow to the prediction only; the target's features are computed
    without a graph. Any network with `forward(x, layers=...) -> list[Tensor]` works, e.g. `MRIFeatureNet`
    (inputs in [0, 1], single channel).

    3D inputs (N, C, D, H, W) given to a 2D feature network are compared slice by slice along the last axis
    (the slices are folded into the batch), which for volumes stored (x, y, z) means axial slices.

    Args:
        feature_net: the frozen feature extractor.
        layers: the layer (stage) indices to compare.
        weights: one weight per layer; 1 each by default.
    """

    def __init__(
        self, feature_net: nn.Module, layers: Sequence[int] = (1, 2, 3), weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        self.layers = tuple(int(layer) for layer in layers)
        if not self.layers:
            raise ValueError("layers must not be empty")
        self.weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(self.layers)
        if len(self.weights) != len(self.layers):
            raise ValueError(f"got {len(self.weights)} weights for {len(self.layers)} layers")
        self.feature_net = feature_net.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.feature_net.eval()
        return self

    def extra_repr(self) -> str:
        return f"layers={self.layers}, weights={self.weights}"

    def _fold(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5 and getattr(self.feature_net, "spatial_dims", 2) == 2:
            n, c, d, h, w = x.shape
            return x.permute(0, 4, 1, 2, 3).reshape(n * w, c, d, h)
        return x

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args: prediction, target: (N, C, *S), same shape. Returns a scalar tensor."""
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        prediction, target = self._fold(prediction), self._fold(target)
        predicted_features = self.feature_net(prediction, layers=self.layers)
        with torch.no_grad():
            target_features = self.feature_net(target, layers=self.layers)
        total = prediction.new_zeros((), dtype=torch.float32)
        for weight, predicted, wanted in zip(self.weights, predicted_features, target_features, strict=True):
            total = total + weight * (predicted.float() - wanted.float()).abs().mean()
        return total
