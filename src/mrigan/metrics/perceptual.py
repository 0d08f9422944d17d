"""A learned perceptual distance (LPIPS-style) in the features of the project's own MRI network.

LPIPS (Zhang et al. 2018) compares two images in a network's features: each stage's feature vectors are
normalised to unit length over channels, their squared difference is averaged over space, and the stages are
summed. LPIPS proper weighs channels with a linear layer fitted to human judgements of photographs; this is its
unweighted form over `MRIFeatureNet` (`models/mri_features.safetensors`, trained by `mrigan.features_training`
to segment tissue on MNI152 and inia19, Colin27 held out; nothing downloaded), with the stages averaged so the
distance lies in [0, 4]. Lower is closer; 0 for identical images. A number it gives should name the feature file
(`FeatureDistance.describe`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FEATURES_FILE = "mri_features.safetensors"


class FeatureDistance:
    """Per-image LPIPS-style distance between 2D images in [0, 1], optionally inside a mask.

    Args:
        path: an `MRIFeatureNet` safetensors file (default: the shipped one in `models_dir()`).
        device: where the network runs.

    Example:
        >>> distance = FeatureDistance()
        >>> distance(output_slice, true_slice, mask=brain_slice)  # doctest: +SKIP
        0.0831
    """

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        from mrigan.io.readwrite import sha256_file
        from mrigan.nn.features import load_feature_net

        if path is None:
            from mrigan.models_catalog import models_dir

            path = models_dir() / FEATURES_FILE
        self.path = Path(path)
        self.net = load_feature_net(self.path, device=device)
        self.device = torch.device(device)
        self.sha256 = sha256_file(self.path)

    def describe(self) -> str:
        """Which features a number used: file name and the start of its sha256."""
        return f"{self.path.name} (sha256 {self.sha256[:12]})"

    @torch.inference_mode()
    def __call__(self, pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None) -> float:
        """The distance between two (H, W) images; with a mask, each stage averages where the mask covers it.

        Raises:
            ValueError: shapes differ, the images are not 2D, or the mask is empty.
        """
        pred, target = np.asarray(pred, dtype=np.float32), np.asarray(target, dtype=np.float32)
        if pred.shape != target.shape or pred.ndim != 2:
            raise ValueError(f"need two 2D images of one shape, got {pred.shape} and {target.shape}")
        if mask is not None and mask.shape != pred.shape:
            raise ValueError(f"mask shape {mask.shape} does not match the images' {pred.shape}")
        if mask is not None and not np.any(mask):
            raise ValueError("the mask is empty")
        images = torch.from_numpy(np.stack([pred, target])[:, None]).to(self.device)
        weight = None if mask is None else torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
        distances = []
        for features in self.net(images):
            unit = F.normalize(features, dim=1, eps=1e-8)
            squared = (unit[0:1] - unit[1:2]).pow(2).sum(dim=1, keepdim=True)  # (1, 1, h, w), in [0, 4]
            if weight is None:
                distances.append(squared.mean())
                continue
            cover = F.adaptive_avg_pool2d(weight, squared.shape[2:]).to(squared.device)
            if float(cover.sum()) <= 0:  # a mask too small to reach this stage's grid
                continue
            distances.append((squared * cover).sum() / cover.sum())
        return float(torch.stack(distances).mean())
