"""Discriminators. All return raw logits (no sigmoid): the adversarial losses apply what they need.

* `PatchDiscriminator`: the pix2pix PatchGAN (seeds 000, 003, 004), one logit per overlapping patch.
* `MultiScaleDiscriminator`: PatchGANs on the input at several resolutions (seed 000: two scales, spectral norm).
* `DCGANDiscriminator`: strided convolutions to a single logit, for a fixed input size (seed 004).
* `SRGANDiscriminator`: conv-norm-LeakyReLU stages, global pooling, dense layers to one logit, any input
  size (seeds 001, 002).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mrigan.nn.layers import (
    ConvNormAct,
    MCDropout,
    adaptive_avg_pool,
    apply_spectral_norm,
    avg_pool,
    check_channels,
    check_norm,
    check_spatial_dims,
    conv,
    int_tuple,
    json_kwargs,
)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al., 2017): a fully convolutional net giving one logit per receptive field.

    `n_layers` 4x4 stride-2 convolutions (widths base_channels * 2**i, capped at 8 * base_channels), then a
    4x4 stride-1 convolution and a 4x4 stride-1 convolution to one channel. With `n_layers=3` the receptive
    field is 70x70 pixels. The first layer has no normalisation; LeakyReLU(0.2) throughout.

    Args:
        in_channels: input channels (conditional GANs: condition and image concatenated).
        spatial_dims: 2 or 3.
        base_channels: width of the first layer.
        n_layers: number of stride-2 layers.
        norm: "instance", "batch" or "none".
        spectral_norm: spectral normalisation on every convolution.

    Shape:
        (N, in_channels, *S) -> (N, 1, *S'), S' = S // 2**n_layers - 2; each size in S must be at least
        `min_input_size` = 3 * 2**n_layers (24 for n_layers = 3).
    """

    def __init__(
        self,
        *,
        in_channels: int = 2,
        spatial_dims: int = 2,
        base_channels: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.min_input_size = 3 * 2**n_layers
        layers: list[nn.Module] = [
            ConvNormAct(
                in_channels,
                base_channels,
                spatial_dims=spatial_dims,
                kernel_size=4,
                stride=2,
                padding=1,
                norm="none",
                act="leaky_relu",
            )
        ]
        width = base_channels
        for index in range(1, n_layers + 1):
            next_width = base_channels * min(2**index, 8)
            layers.append(
                ConvNormAct(
                    width,
                    next_width,
                    spatial_dims=spatial_dims,
                    kernel_size=4,
                    stride=2 if index < n_layers else 1,
                    padding=1,
                    norm=norm,
                    act="leaky_relu",
                )
            )
            width = next_width
        layers.append(conv(spatial_dims)(width, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, type(self).__name__)
        if min(x.shape[2:]) < self.min_input_size:
            raise ValueError(
                f"{type(self).__name__} needs spatial sizes of at least {self.min_input_size}, "
                f"got {tuple(x.shape[2:])}; use fewer n_layers or a larger input"
            )
        return self.layers(x)


class MultiScaleDiscriminator(nn.Module):
    """Several PatchGANs, each on the input average-pooled once more than the last (pix2pixHD).

    Scale 0 sees the full resolution, scale k the input downsampled k times by a 3x3 stride-2 average pool;
    the same architecture then covers a k-times larger receptive field in input pixels.

    Args:
        in_channels: input channels.
        spatial_dims: 2 or 3.
        num_scales: number of PatchGANs.
        base_channels: width of each PatchGAN's first layer.
        n_layers: stride-2 layers of each PatchGAN.
        norm: "instance", "batch" or "none".
        spectral_norm: spectral normalisation on every convolution (seed 000 uses it).

    Shape:
        (N, in_channels, *S) -> list of `num_scales` logit maps (N, 1, *S_k), finest first.
    """

    def __init__(
        self,
        *,
        in_channels: int = 2,
        spatial_dims: int = 2,
        num_scales: int = 2,
        base_channels: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be at least 1, got {num_scales}")
        self.config = json_kwargs(locals())
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(
                in_channels=in_channels,
                spatial_dims=spatial_dims,
                base_channels=base_channels,
                n_layers=n_layers,
                norm=norm,
                spectral_norm=spectral_norm,
            )
            for _ in range(num_scales)
        )
        self.downsample = avg_pool(spatial_dims)(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, discriminator in enumerate(self.discriminators):
            if index:
                x = self.downsample(x)
            outputs.append(discriminator(x))
        return outputs


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator (Radford et al., 2016) for a fixed input size, as used in seed 004.

    4x4 stride-2 convolutions halve the size until it is at most 4 (widths base_channels * 2**i, capped at
    `max_channels`; no norm on the first), then a dense layer maps the flattened features to one logit.

    Args:
        in_channels: input channels.
        input_size: the (square / cubic) input size the network is built for; at least 8.
        spatial_dims: 2 or 3.
        base_channels: width of the first convolution.
        max_channels: width cap.
        norm: "batch" (DCGAN), "instance" or "none".
        spectral_norm: spectral normalisation on every convolution and the dense layer.

    Shape:
        (N, in_channels, *([input_size] * spatial_dims)) -> (N, 1)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        input_size: int = 64,
        spatial_dims: int = 2,
        base_channels: int = 64,
        max_channels: int = 512,
        norm: str = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        if input_size < 8:
            raise ValueError(f"input_size must be at least 8, got {input_size}")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.input_size = input_size
        self.spatial_dims = spatial_dims
        layers: list[nn.Module] = []
        size, width, in_width = input_size, base_channels, in_channels
        while size > 4:
            layers.append(
                ConvNormAct(
                    in_width,
                    width,
                    spatial_dims=spatial_dims,
                    kernel_size=4,
                    stride=2,
                    padding=1,
                    norm="none" if not layers else norm,
                    act="leaky_relu",
                )
            )
            size //= 2
            in_width, width = width, min(width * 2, max_channels)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_width * size**spatial_dims, 1)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, type(self).__name__)
        expected = (self.input_size,) * self.spatial_dims
        if tuple(x.shape[2:]) != expected:
            raise ValueError(f"{type(self).__name__} was built for inputs of size {expected}, got {tuple(x.shape[2:])}")
        return self.classifier(torch.flatten(self.features(x), 1))


class SRGANDiscriminator(nn.Module):
    """SRGAN-style discriminator (Ledig et al., 2017) for any input size.

    Each stage is a `kernel_size` conv (stride 1) then, when `downsample`, a `kernel_size` stride-2 conv, each
    followed by normalisation (none on the very first conv), LeakyReLU(0.2) and optional dropout. Features
    are average-pooled to one value per channel, then dense layers give a single logit. The SRGAN layout
    is `channels=(64, 128, 256, 512), dense_channels=1024`; the seed-001 discriminator is close to
    `channels=(8, 16, 32, 64), downsample=False, kernel_size=5, norm="none", dropout=0.4, dense_channels=0`
    (global pooling replaces its flatten, so any size works).

    Args:
        in_channels: input channels.
        spatial_dims: 2 or 3.
        channels: width of each stage.
        downsample: add a stride-2 conv to each stage.
        kernel_size: convolution kernel size.
        norm: "batch" (SRGAN), "instance" or "none".
        dropout: dropout after each activation (seed 001: 0.4).
        dense_channels: hidden width of the dense head; 0 maps the pooled features straight to the logit.
        spectral_norm: spectral normalisation on every convolution and dense layer.

    Shape:
        (N, in_channels, *S) -> (N, 1)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        spatial_dims: int = 2,
        channels: Sequence[int] = (64, 128, 256, 512),
        downsample: bool = True,
        kernel_size: int = 3,
        norm: str = "batch",
        dropout: float = 0.0,
        dense_channels: int = 1024,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        channels = int_tuple(channels, "channels")
        if not channels:
            raise ValueError("channels must not be empty")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        in_width = in_channels
        for width in channels:
            strides = (1, 2) if downsample else (1,)
            for stride in strides:
                layers.append(
                    ConvNormAct(
                        in_width,
                        width,
                        spatial_dims=spatial_dims,
                        kernel_size=kernel_size,
                        stride=stride,
                        norm="none" if not layers else norm,
                        act="leaky_relu",
                        dropout=dropout,
                    )
                )
                in_width = width
        self.features = nn.Sequential(*layers)
        self.pool = adaptive_avg_pool(spatial_dims)(1)
        if dense_channels > 0:
            self.classifier: nn.Module = nn.Sequential(
                nn.Linear(in_width, dense_channels),
                nn.LeakyReLU(0.2, inplace=True),
                MCDropout(dropout) if dropout > 0 else nn.Identity(),
                nn.Linear(dense_channels, 1),
            )
        else:
            self.classifier = nn.Linear(in_width, 1)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, type(self).__name__)
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
