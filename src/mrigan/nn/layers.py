"""Building blocks shared by the networks, in 2D and 3D through one `spatial_dims` argument.

The helpers pick the layer class for the number of spatial dimensions (`conv(3)` is `nn.Conv3d`), so a network
is written once. The blocks here are small and documented so that a reader can follow a network without
opening another file.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

NORMS = ("instance", "batch", "none")
"""Normalisation kinds accepted by `norm`: instance and batch norm (affine), or none."""

ACTIVATIONS = ("relu", "leaky_relu", "elu", "none")
"""Hidden activations accepted by `activation`; leaky_relu has slope 0.2, as in pix2pix and ESRGAN."""

OUT_ACTIVATIONS = ("sigmoid01", "sigmoid", "tanh", "none")
"""Output activations: sigmoid01 is (tanh(x) + 1) / 2 (range [0, 1]), tanh gives [-1, 1], none is linear."""

LEAKY_SLOPE = 0.2


# --------------------------------------------------------------------------------------------------------------
# choosing 2D or 3D layers
# --------------------------------------------------------------------------------------------------------------


def check_spatial_dims(spatial_dims: int) -> int:
    """Return `spatial_dims` if it is 2 or 3, otherwise raise ValueError."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    return int(spatial_dims)


def conv(spatial_dims: int) -> type[nn.Conv2d] | type[nn.Conv3d]:
    """The convolution class for 2 or 3 spatial dimensions (`nn.Conv2d` / `nn.Conv3d`)."""
    return nn.Conv2d if check_spatial_dims(spatial_dims) == 2 else nn.Conv3d


def conv_transpose(spatial_dims: int) -> type[nn.ConvTranspose2d] | type[nn.ConvTranspose3d]:
    """The transposed convolution class for 2 or 3 spatial dimensions."""
    return nn.ConvTranspose2d if check_spatial_dims(spatial_dims) == 2 else nn.ConvTranspose3d


def max_pool(spatial_dims: int) -> type[nn.MaxPool2d] | type[nn.MaxPool3d]:
    """The max-pooling class for 2 or 3 spatial dimensions."""
    return nn.MaxPool2d if check_spatial_dims(spatial_dims) == 2 else nn.MaxPool3d


def avg_pool(spatial_dims: int) -> type[nn.AvgPool2d] | type[nn.AvgPool3d]:
    """The average-pooling class for 2 or 3 spatial dimensions."""
    return nn.AvgPool2d if check_spatial_dims(spatial_dims) == 2 else nn.AvgPool3d


def adaptive_avg_pool(spatial_dims: int) -> type[nn.AdaptiveAvgPool2d] | type[nn.AdaptiveAvgPool3d]:
    """The adaptive average-pooling class for 2 or 3 spatial dimensions."""
    return nn.AdaptiveAvgPool2d if check_spatial_dims(spatial_dims) == 2 else nn.AdaptiveAvgPool3d


def linear_interpolation(spatial_dims: int) -> str:
    """The `F.interpolate` mode for (multi)linear resizing: "bilinear" in 2D, "trilinear" in 3D."""
    return "bilinear" if check_spatial_dims(spatial_dims) == 2 else "trilinear"


def norm(kind: str, spatial_dims: int, channels: int) -> nn.Module:
    """A normalisation layer.

    Args:
        kind: "instance" (per-sample, affine), "batch" or "none" (identity).
        spatial_dims: 2 or 3.
        channels: number of feature channels.

    Returns:
        The layer; `nn.Identity` for "none".
    """
    check_spatial_dims(spatial_dims)
    if kind == "instance":
        layer = nn.InstanceNorm2d if spatial_dims == 2 else nn.InstanceNorm3d
        return layer(channels, affine=True)
    if kind == "batch":
        layer = nn.BatchNorm2d if spatial_dims == 2 else nn.BatchNorm3d
        return layer(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


_norm_layer = norm  # for the classes below whose `norm` argument hides the function


def check_norm(kind: str) -> str:
    """Return `kind` if it names a normalisation, otherwise raise ValueError."""
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    return kind


def activation(kind: str) -> nn.Module:
    """A hidden activation: "relu", "leaky_relu" (slope 0.2), "elu" or "none"."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    if kind == "elu":
        return nn.ELU(inplace=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {kind!r}")


class OutputActivation(nn.Module):
    """The last activation of a generator.

    Args:
        kind: "sigmoid01" ((tanh(x) + 1) / 2, range [0, 1]; the UMR-GAN output), "sigmoid" ([0, 1]),
            "tanh" ([-1, 1], pix2pix / CycleGAN) or "none" (linear).
    """

    def __init__(self, kind: str = "none") -> None:
        super().__init__()
        if kind not in OUT_ACTIVATIONS:
            raise ValueError(f"out_activation must be one of {OUT_ACTIVATIONS}, got {kind!r}")
        self.kind = kind

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The (low, high) range of the output, or None when unbounded."""
        return {"sigmoid01": (0.0, 1.0), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(self.kind)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "sigmoid01":
            return (torch.tanh(x) + 1.0) / 2.0
        if self.kind == "sigmoid":
            return torch.sigmoid(x)
        if self.kind == "tanh":
            return torch.tanh(x)
        return x

    def extra_repr(self) -> str:
        return self.kind


# --------------------------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------------------------


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation (and dropout when `dropout` > 0).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        kernel_size: convolution kernel size.
        stride: convolution stride.
        padding: an int, or "same": (k - 1) // 2 on each side; for an even kernel at stride 1, one more zero
            row / column at the end, as Keras and PyTorch's "same" do.
        norm: "instance", "batch" or "none".
        act: "relu", "leaky_relu", "elu" or "none".
        dropout: dropout probability after the activation (an `MCDropout`).
        bias: whether the convolution has a bias; by default only when there is no normalisation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        spatial_dims: int = 2,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | str = "same",
        norm: str = "none",
        act: str = "relu",
        dropout: float = 0.0,
        bias: bool | None = None,
    ) -> None:
        layers: list[nn.Module] = []
        if padding == "same":
            padding = (kernel_size - 1) // 2
            if kernel_size % 2 == 0 and stride == 1:  # Keras / PyTorch "same": the extra row and column at the end
                pad_layer = nn.ConstantPad2d if check_spatial_dims(spatial_dims) == 2 else nn.ConstantPad3d
                layers.append(pad_layer((padding, padding + 1) * spatial_dims, 0.0))
                padding = 0
        layers.append(
            conv(spatial_dims)(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                bias=(check_norm(norm) == "none") if bias is None else bias,
            )
        )
        if norm != "none":
            layers.append(_norm_layer(norm, spatial_dims, out_channels))
        if act != "none":
            layers.append(activation(act))
        if dropout > 0:
            layers.append(MCDropout(dropout))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with normalisation and a ReLU between them, added to the input (EDSR / CycleGAN).

    Args:
        channels: input and output channels.
        spatial_dims: 2 or 3.
        norm: "instance", "batch" or "none".

    Shape:
        (N, C, *S) -> (N, C, *S)
    """

    def __init__(self, channels: int, *, spatial_dims: int = 2, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, spatial_dims=spatial_dims, norm=norm, act="relu"),
            ConvNormAct(channels, channels, spatial_dims=spatial_dims, norm=norm, act="none"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ChannelSpatialAttention(nn.Module):
    """CBAM attention (Woo et al., 2018): a channel gate, then a spatial gate, each multiplying the features.

    The channel gate is a shared two-layer MLP (1x1 convolutions) on the average- and max-pooled features; the
    spatial gate is a 7x7 (7x7x7) convolution on the channel-wise mean and max maps. Both end in a sigmoid, so
    the block can only re-weight features, never invent them, and starts close to a uniform 0.5 scaling.

    Args:
        channels: feature channels.
        spatial_dims: 2 or 3.
        reduction: channel reduction of the MLP's hidden layer.
        kernel_size: kernel of the spatial gate's convolution.

    Shape:
        (N, C, *S) -> (N, C, *S)
    """

    def __init__(self, channels: int, *, spatial_dims: int = 2, reduction: int = 8, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        conv_layer = conv(spatial_dims)
        self.channel_mlp = nn.Sequential(
            conv_layer(channels, hidden, 1), nn.ReLU(inplace=True), conv_layer(hidden, channels, 1)
        )
        self.spatial_conv = conv_layer(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduce_dims = tuple(range(2, x.ndim))
        pooled_mean = x.mean(dim=reduce_dims, keepdim=True)
        pooled_max = x.amax(dim=reduce_dims, keepdim=True)
        x = x * torch.sigmoid(self.channel_mlp(pooled_mean) + self.channel_mlp(pooled_max))
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_conv(maps))


class AdditiveAttentionGate(nn.Module):
    """The additive attention gate of Attention U-Net (Oktay et al., 2018), gating a skip connection.

    psi = sigmoid(w . relu(W_x skip + W_g gating)); returns skip * psi. Here the gating signal is the decoder
    feature already brought to the skip's resolution, so no resampling happens inside the gate.

    Args:
        skip_channels: channels of the skip (encoder) features.
        gating_channels: channels of the gating (decoder) features.
        spatial_dims: 2 or 3.
        inter_channels: hidden channels; half the skip channels (at least 4) by default.

    Shape:
        skip (N, Cs, *S), gating (N, Cg, *S) -> (N, Cs, *S)
    """

    def __init__(
        self, skip_channels: int, gating_channels: int, *, spatial_dims: int = 2, inter_channels: int | None = None
    ) -> None:
        super().__init__()
        inter_channels = inter_channels or max(skip_channels // 2, 4)
        conv_layer = conv(spatial_dims)
        self.skip_proj = conv_layer(skip_channels, inter_channels, 1, bias=False)
        self.gating_proj = conv_layer(gating_channels, inter_channels, 1)
        self.psi = conv_layer(inter_channels, 1, 1)

    def forward(self, skip: torch.Tensor, gating: torch.Tensor) -> torch.Tensor:
        attention = torch.sigmoid(self.psi(F.relu(self.skip_proj(skip) + self.gating_proj(gating))))
        return skip * attention


class PixelShuffle(nn.Module):
    """Sub-pixel rearrangement (Shi et al., 2016) in 2D or 3D: (N, C r^d, *S) -> (N, C, *(S r)).

    Args:
        scale: upscaling factor r per spatial dimension.
        spatial_dims: 2 or 3 (d).
    """

    def __init__(self, scale: int, *, spatial_dims: int = 2) -> None:
        super().__init__()
        self.scale = int(scale)
        self.spatial_dims = check_spatial_dims(spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spatial_dims == 2:
            return F.pixel_shuffle(x, self.scale)
        r = self.scale
        n, c, d, h, w = x.shape
        x = x.reshape(n, c // r**3, r, r, r, d, h, w)
        x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)
        return x.reshape(n, c // r**3, d * r, h * r, w * r)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, spatial_dims={self.spatial_dims}"


def icnr_(weight: torch.Tensor, scale: int, spatial_dims: int) -> torch.Tensor:
    """ICNR initialisation (Aitken et al., 2017) of a convolution feeding a `PixelShuffle`, in place.

    Each group of scale^d output channels starts with the same kernel, so the shuffled output is, at
    initialisation, a nearest-neighbour upsampling: no checkerboard to unlearn.
    """
    sub_shape = (weight.shape[0] // scale**spatial_dims, *weight.shape[1:])
    sub = torch.empty(sub_shape, dtype=weight.dtype, device=weight.device)
    nn.init.kaiming_normal_(sub)
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(scale**spatial_dims, dim=0))
    return weight


class FlipAverage(nn.Module):
    """A network averaged over the in-plane flips of its input: a geometric self-ensemble (Timofte et al. 2016).

    The input (N, C, X, Y) or (N, C, X, Y, Z) goes through `network` as it is and flipped along X, Y and both;
    each output is flipped back and the four are averaged (four passes). A network trained with random flips
    answers each flip with slightly different errors, so the mean is closer to the truth: on the CycleGAN's
    validation slabs it gave T1w -> T2w 30.2 dB against 28.9 for one pass. Any network whose output flips with
    its input fits: translations, restorations, in-plane upscalers.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(self.network(x.flip(dims)).flip(dims) for dims in ((), (2,), (3,), (2, 3))) / 4


# --------------------------------------------------------------------------------------------------------------
# dropout, spectral norm, parameters, kwargs
# --------------------------------------------------------------------------------------------------------------


class MCDropout(nn.Dropout):
    """Dropout that can stay active in eval mode, for Monte-Carlo dropout uncertainty (Gal & Ghahramani, 2016).

    Behaves as `nn.Dropout` unless `always_on` is True (set by `enable_mc_dropout`), in which case it drops
    units in eval mode too, so repeated forward passes sample different sub-networks.
    """

    def __init__(self, p: float = 0.5, *, always_on: bool = False) -> None:
        super().__init__(p)
        self.always_on = always_on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training or self.always_on, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, always_on={self.always_on}"


def enable_mc_dropout(module: nn.Module, enabled: bool = True) -> int:
    """Turn Monte-Carlo dropout on (or off) in every dropout layer of `module`, whatever its train/eval mode.

    `MCDropout` layers get `always_on = enabled`, which survives `module.eval()`. Plain `nn.Dropout` layers
    are put in train mode instead, which a later `module.eval()` undoes: call this after `eval()`.

    Args:
        module: a network.
        enabled: True to sample at inference, False to restore ordinary dropout.

    Returns:
        How many dropout layers with p > 0 were found; 0 means MC dropout has no effect on this network.
    """
    count = 0
    for layer in module.modules():
        if isinstance(layer, MCDropout):
            layer.always_on = enabled
        elif isinstance(layer, nn.modules.dropout._DropoutNd):
            layer.train(enabled or module.training)
        else:
            continue
        count += int(layer.p > 0)
    return count


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Put spectral normalisation (Miyato et al., 2018) on every convolution and linear layer, in place."""
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.Conv3d, nn.Linear)) and not parametrize.is_parametrized(layer, "weight"):
            nn.utils.parametrizations.spectral_norm(layer)
    return module


def has_spectral_norm(layer: nn.Module) -> bool:
    """Whether `layer`'s weight is spectrally normalised (as a parametrisation)."""
    return parametrize.is_parametrized(layer, "weight") and any(
        "SpectralNorm" in type(p).__name__ for p in layer.parametrizations["weight"]
    )


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of `module` (only those with requires_grad when `trainable_only`)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def json_kwargs(local_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments from `locals()`, as JSON-ready values (tuples become lists).

    Called from a network's `__init__` as `json_kwargs(locals())`, after any normalisation of the arguments
    (so the stored values are the resolved ones); only the caller's own parameters are kept, not other
    local variables, so `type(net)(**net.config)` rebuilds it.
    """
    code = sys._getframe(1).f_code
    parameter_names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, Mapping):
            return {str(key): plain(item) for key, item in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"constructor argument of type {type(value).__name__} is not JSON-serialisable")

    return {name: plain(local_vars[name]) for name in parameter_names if name != "self"}


def int_tuple(values: Iterable[int] | int, name: str) -> tuple[int, ...]:
    """`values` as a tuple of ints (a JSON list comes back as a list), or raise ValueError naming `name`."""
    if isinstance(values, int):
        return (values,)
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a sequence of ints, got {values!r}") from error


def check_divisible(x: torch.Tensor, factor: int, spatial_dims: int, owner: str) -> None:
    """Raise ValueError unless `x` is (N, C, *S) with `spatial_dims` sizes in S, each divisible by `factor`."""
    if x.ndim != spatial_dims + 2:
        raise ValueError(
            f"{owner} expects a {spatial_dims + 2}-D tensor (N, C, {', '.join('DHW'[-spatial_dims:])}), "
            f"got shape {tuple(x.shape)}"
        )
    sizes = tuple(x.shape[2:])
    if any(size % factor for size in sizes):
        padded = tuple(int(math.ceil(size / factor) * factor) for size in sizes)
        raise ValueError(
            f"{owner} needs spatial sizes divisible by {factor}, got {sizes}; pad the input to {padded} "
            f"(and crop the output back)"
        )


def check_channels(x: torch.Tensor, channels: int, owner: str) -> None:
    """Raise ValueError unless `x` has `channels` channels in dimension 1."""
    if x.ndim < 2 or x.shape[1] != channels:
        raise ValueError(f"{owner} expects {channels} input channel(s), got shape {tuple(x.shape)}")

