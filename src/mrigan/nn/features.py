"""A small VGG-style feature network for MRI, trained by the project itself, and its safetensors file format.

The perceptual loss and the Frechet distance need a feature network. ImageNet VGG weights would have to be
downloaded and are trained on RGB photographs; `MRIFeatureNet` is small enough to train on MRI slices (tissue
segmentation through its `head`) and ships as a `.safetensors` file whose metadata holds its constructor
arguments, so `load_feature_net(path)` needs nothing else and never unpickles anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mrigan.nn.layers import (
    ConvNormAct,
    check_channels,
    check_spatial_dims,
    conv,
    int_tuple,
    json_kwargs,
    linear_interpolation,
    max_pool,
)

CLASS_KEY = "mrigan.class"
KWARGS_KEY = "mrigan.kwargs"
CLASS_PATH = "mrigan.nn.features.MRIFeatureNet"


class SegmentationHead(nn.Module):
    """Predicts class logits from every stage: 1x1 conv per stage, resize to the input grid, sum, 1x1 convs.

    Args:
        widths: channels of each stage's features.
        num_classes: number of output classes.
        spatial_dims: 2 or 3.
        hidden_channels: width of the per-stage projections.

    Shape:
        list of (N, widths[i], *S_i), output size S -> (N, num_classes, *S)
    """

    def __init__(
        self, widths: Sequence[int], num_classes: int, *, spatial_dims: int = 2, hidden_channels: int = 32
    ) -> None:
        super().__init__()
        conv_layer = conv(spatial_dims)
        self.interpolation = linear_interpolation(spatial_dims)
        self.projections = nn.ModuleList(conv_layer(width, hidden_channels, 1) for width in widths)
        self.classifier = nn.Sequential(nn.ReLU(inplace=True), conv_layer(hidden_channels, num_classes, 1))

    def forward(self, features: Sequence[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        total = None
        for projection, feature in zip(self.projections, features, strict=True):
            projected = projection(feature)
            if tuple(projected.shape[2:]) != tuple(size):
                projected = F.interpolate(projected, size=tuple(size), mode=self.interpolation, align_corners=False)
            total = projected if total is None else total + projected
        return self.classifier(total)


class MRIFeatureNet(nn.Module):
    """VGG-style encoder for single-channel MRI with a segmentation head for training it.

    Stage i is `convs_per_stage` 3x3 conv + ReLU layers at `widths[i]`, with a 2x max-pool before every stage
    but the first. `forward` returns the requested stages' outputs (after their last ReLU), the features a
    perceptual loss compares; `segment` adds the head to predict tissue classes.

    Inputs are intensities in [0, 1] (the project's convention); they are centred to [-1, 1] inside.

    Args:
        in_channels: input channels (1).
        widths: channels of each stage.
        convs_per_stage: conv + ReLU layers per stage.
        num_classes: classes predicted by the head (e.g. background, CSF, grey matter, white matter).
        spatial_dims: 2 or 3.

    Shape:
        forward: (N, in_channels, *S) -> list of (N, widths[i], *(S / 2**i)) for the requested stages i.
        segment: (N, in_channels, *S) -> (N, num_classes, *S) logits.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 32, 64, 96),
        convs_per_stage: int = 2,
        num_classes: int = 4,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        widths = int_tuple(widths, "widths")
        if not widths or convs_per_stage < 1:
            raise ValueError("widths must not be empty and convs_per_stage must be at least 1")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.widths = widths
        self.spatial_dims = spatial_dims
        self.stages = nn.ModuleList()
        width = in_channels
        for index, stage_width in enumerate(widths):
            layers: list[nn.Module] = [max_pool(spatial_dims)(2)] if index else []
            for _ in range(convs_per_stage):
                layers.append(ConvNormAct(width, stage_width, spatial_dims=spatial_dims, act="relu"))
                width = stage_width
            self.stages.append(nn.Sequential(*layers))
        self.head = SegmentationHead(widths, num_classes, spatial_dims=spatial_dims)

    @property
    def num_stages(self) -> int:
        """Number of stages; valid layer indices are 0 .. num_stages - 1."""
        return len(self.stages)

    def forward(self, x: torch.Tensor, layers: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Stage outputs.

        Args:
            x: (N, in_channels, *S) images in [0, 1].
            layers: stage indices to return, in the order wanted; None for all stages.

        Returns:
            One tensor per requested stage. Stages after the deepest requested one are not computed.
        """
        check_channels(x, self.in_channels, type(self).__name__)
        layers = tuple(range(self.num_stages)) if layers is None else int_tuple(layers, "layers")
        if any(not 0 <= layer < self.num_stages for layer in layers):
            raise ValueError(f"layers must lie in [0, {self.num_stages - 1}], got {layers}")
        outputs: dict[int, torch.Tensor] = {}
        features = x * 2.0 - 1.0
        for index, stage in enumerate(self.stages[: max(layers, default=-1) + 1]):
            features = stage(features)
            outputs[index] = features
        return [outputs[layer] for layer in layers]

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """Tissue-class logits at the input's resolution: (N, in_channels, *S) -> (N, num_classes, *S)."""
        return self.head(self.forward(x), x.shape[2:])


def save_feature_net(net: MRIFeatureNet, path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write `net`'s weights and constructor arguments to a `.safetensors` file.

    Args:
        net: the network.
        path: destination file.
        metadata: extra string entries for the file's metadata (training data, metrics, ...).

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    path = Path(path)
    entries = {str(k): str(v) for k, v in (metadata or {}).items()}
    entries.update({CLASS_KEY: CLASS_PATH, KWARGS_KEY: json.dumps(net.config, sort_keys=True)})
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
    save_file(state, str(path), metadata=entries)
    return path


def load_feature_net(path: str | Path, device: str | torch.device = "cpu") -> MRIFeatureNet:
    """Rebuild an `MRIFeatureNet` from a `.safetensors` file written by `save_feature_net`.

    The constructor arguments come from the file's metadata; weights must match exactly. Nothing is downloaded
    and nothing is unpickled.

    Args:
        path: the `.safetensors` file.
        device: where to put the network.

    Returns:
        The network, in eval mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a feature-net file (metadata missing or for another class).
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature network file not found: {path}")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get(CLASS_KEY) != CLASS_PATH or KWARGS_KEY not in metadata:
        raise ValueError(
            f"{path}: not an MRIFeatureNet file (metadata {CLASS_KEY!r} = {metadata.get(CLASS_KEY)!r}); "
            f"write it with mrigan.nn.save_feature_net"
        )
    net = MRIFeatureNet(**json.loads(metadata[KWARGS_KEY]))
    net.load_state_dict(load_file(str(path), device=str(device)), strict=True)
    return net.to(device).eval()
