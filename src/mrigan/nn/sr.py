"""Super-resolution and image-to-image networks of seeds 001, 002 and 004.

Upscaling networks take the low-resolution image and return one `scale` times larger per spatial dimension:
`SRCNN001` (fixed size, dense layer), `FullyConvSR`, `SRGANGenerator`, `RRDBNet`. Same-size networks take an
image already on the target grid (e.g. a 7T volume resampled to the 9.4T grid) and return the same size:
`FCN`, `DCSRN`, `DCGANGenerator` (and `RRDBNet` with `scale=1`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mrigan.nn.layers import (
    LEAKY_SLOPE,
    ConvNormAct,
    MCDropout,
    OutputActivation,
    PixelShuffle,
    check_channels,
    check_divisible,
    check_norm,
    check_spatial_dims,
    conv,
    conv_transpose,
    icnr_,
    int_tuple,
    json_kwargs,
    max_pool,
)
from mrigan.nn.layers import (
    norm as norm_layer,
)


def _check_scale(scale: int, *, powers_of_two: bool = False) -> int:
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    if powers_of_two and scale & (scale - 1):
        raise ValueError(f"scale must be 1 or a power of two, got {scale}")
    return scale


def _check_spatial(x: torch.Tensor, spatial_dims: int, owner: str) -> None:
    if x.ndim != spatial_dims + 2:
        raise ValueError(f"{owner} expects a {spatial_dims + 2}-D tensor (N, C, *spatial), got {tuple(x.shape)}")


class SRCNN001(nn.Module):
    """The CNN of seed 001: four 'same' convolutions with ReLU, flatten, a dense layer, reshape.

    Built for a fixed low-resolution `input_size` (25 in the seed); the dense layer maps every feature of the
    crop to every pixel of the `scale` times larger output (50 x 50), followed by a sigmoid. Convolutions are
    128 k10, 64 k5, 64 k5, 32 k3 by default; even kernels use PyTorch's asymmetric "same" padding.
    The dense layer is large: 32 * 25**2 * 50**2 = 50 M weights in 2D at the seed's sizes (3D is only
    practical at tiny sizes).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        input_size: side of the low-resolution input crop.
        scale: upscaling factor.
        spatial_dims: 2 or 3.
        channels: widths of the convolutions.
        kernel_sizes: kernel sizes of the convolutions.
        out_activation: "sigmoid" (seed), "sigmoid01", "tanh" or "none".

    Shape:
        (N, in_channels, *[input_size] * d) -> (N, out_channels, *[input_size * scale] * d)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        input_size: int = 25,
        scale: int = 2,
        spatial_dims: int = 2,
        channels: Sequence[int] = (128, 64, 64, 32),
        kernel_sizes: Sequence[int] = (10, 5, 5, 3),
        out_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        _check_scale(scale)
        channels = int_tuple(channels, "channels")
        kernel_sizes = int_tuple(kernel_sizes, "kernel_sizes")
        if len(channels) != len(kernel_sizes) or not channels:
            raise ValueError("channels and kernel_sizes must be non-empty and of the same length")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = input_size
        self.spatial_dims = spatial_dims
        self.output_size = input_size * scale
        widths = (in_channels, *channels)
        self.features = nn.Sequential(
            *(
                ConvNormAct(widths[i], widths[i + 1], spatial_dims=spatial_dims, kernel_size=k, act="relu")
                for i, k in enumerate(kernel_sizes)
            )
        )
        self.dense = nn.Linear(channels[-1] * input_size**spatial_dims, out_channels * self.output_size**spatial_dims)
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, type(self).__name__)
        expected = (self.input_size,) * self.spatial_dims
        if tuple(x.shape[2:]) != expected:
            raise ValueError(f"{type(self).__name__} was built for inputs of size {expected}, got {tuple(x.shape[2:])}")
        out = self.dense(torch.flatten(self.features(x), 1))
        out = out.reshape(x.shape[0], self.out_channels, *(self.output_size,) * self.spatial_dims)
        return self.out_activation(out)


class FullyConvSR(nn.Module):
    """The seed-001 convolutions made fully convolutional: 'same' convs at low resolution, then an upsampler.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale: upscaling factor.
        spatial_dims: 2 or 3.
        channels: widths of the feature convolutions (ReLU after each).
        kernel_sizes: their kernel sizes (odd, so padding is symmetric).
        upsampler: "subpixel" (3x3 conv to out_channels * scale**d, pixel shuffle, ICNR initialised: ESPCN) or
            "resize" (nearest resize by `scale`, then a 3x3 conv).
        out_activation: "none", "sigmoid", "sigmoid01" or "tanh".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *(scale S))
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 2,
        spatial_dims: int = 2,
        channels: Sequence[int] = (128, 64, 64, 32),
        kernel_sizes: Sequence[int] = (9, 5, 5, 3),
        upsampler: str = "subpixel",
        out_activation: str = "none",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        _check_scale(scale)
        channels = int_tuple(channels, "channels")
        kernel_sizes = int_tuple(kernel_sizes, "kernel_sizes")
        if len(channels) != len(kernel_sizes) or not channels:
            raise ValueError("channels and kernel_sizes must be non-empty and of the same length")
        if upsampler not in ("subpixel", "resize"):
            raise ValueError(f"upsampler must be 'subpixel' or 'resize', got {upsampler!r}")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.scale = scale
        self.upsampler = upsampler
        widths = (in_channels, *channels)
        self.features = nn.Sequential(
            *(
                ConvNormAct(widths[i], widths[i + 1], spatial_dims=spatial_dims, kernel_size=k, act="relu")
                for i, k in enumerate(kernel_sizes)
            )
        )
        if upsampler == "subpixel":
            self.to_output = conv(spatial_dims)(channels[-1], out_channels * scale**spatial_dims, 3, padding=1)
            icnr_(self.to_output.weight, scale, spatial_dims)
            nn.init.zeros_(self.to_output.bias)
            self.shuffle: nn.Module = PixelShuffle(scale, spatial_dims=spatial_dims)
        else:
            self.to_output = conv(spatial_dims)(channels[-1], out_channels, 3, padding=1)
            self.shuffle = nn.Identity()
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_spatial(x, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        features = self.features(x)
        if self.upsampler == "resize":
            features = F.interpolate(features, scale_factor=float(self.scale), mode="nearest")
        return self.out_activation(self.shuffle(self.to_output(features)))


class SRGANGenerator(nn.Module):
    """The seed-001 GAN generator: conv-norm-ReLU blocks, a nearest-neighbour upsampling, more blocks.

    Seed layout (defaults): conv 64 k3, BN, ReLU, dropout 0.4; conv 32 k5, BN, ReLU; upsample; conv 16 k5,
    BN, ReLU; conv 8 k5, BN, ReLU; conv `out_channels` k5; sigmoid.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale: upscaling factor of the single upsampling step (2 or 4 in the seed's plans).
        spatial_dims: 2 or 3.
        channels: widths of the blocks.
        kernel_sizes: kernel sizes of the blocks.
        upsample_after: number of blocks before the upsampling.
        final_kernel_size: kernel of the output convolution.
        dropout: dropout after the first block (seed: 0.4).
        norm: "batch" (seed), "instance" or "none".
        out_activation: "sigmoid" (seed), "sigmoid01", "tanh" or "none".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *(scale S))
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 2,
        spatial_dims: int = 2,
        channels: Sequence[int] = (64, 32, 16, 8),
        kernel_sizes: Sequence[int] = (3, 5, 5, 5),
        upsample_after: int = 2,
        final_kernel_size: int = 5,
        dropout: float = 0.4,
        norm: str = "batch",
        out_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        _check_scale(scale)
        channels = int_tuple(channels, "channels")
        kernel_sizes = int_tuple(kernel_sizes, "kernel_sizes")
        if len(channels) != len(kernel_sizes) or not channels:
            raise ValueError("channels and kernel_sizes must be non-empty and of the same length")
        if not 0 <= upsample_after <= len(channels):
            raise ValueError(f"upsample_after must lie in [0, {len(channels)}], got {upsample_after}")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        widths = (in_channels, *channels)
        blocks = [
            ConvNormAct(
                widths[i],
                widths[i + 1],
                spatial_dims=spatial_dims,
                kernel_size=k,
                norm=norm,
                act="relu",
                dropout=dropout if i == 0 else 0.0,
            )
            for i, k in enumerate(kernel_sizes)
        ]
        self.before = nn.Sequential(*blocks[:upsample_after])
        self.upsample = nn.Upsample(scale_factor=float(scale), mode="nearest")
        self.after = nn.Sequential(*blocks[upsample_after:])
        self.to_output = conv(spatial_dims)(
            channels[-1], out_channels, final_kernel_size, padding=final_kernel_size // 2
        )
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_spatial(x, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        return self.out_activation(self.to_output(self.after(self.upsample(self.before(x)))))


class ResidualDenseBlock(nn.Module):
    """ESRGAN's residual dense block: five densely connected 3x3 convs, output scaled and added to the input.

    Args:
        num_features: input and output channels.
        growth_channels: channels added by each of the first four convs.
        spatial_dims: 2 or 3.
        residual_scale: factor on the block's output before the addition (0.2 in ESRGAN).

    Shape:
        (N, num_features, *S) -> (N, num_features, *S)
    """

    def __init__(
        self, num_features: int, growth_channels: int, *, spatial_dims: int = 2, residual_scale: float = 0.2
    ) -> None:
        super().__init__()
        conv_layer = conv(spatial_dims)
        self.residual_scale = residual_scale
        self.convs = nn.ModuleList(
            conv_layer(num_features + i * growth_channels, growth_channels if i < 4 else num_features, 3, padding=1)
            for i in range(5)
        )
        for layer in self.convs:  # ESRGAN: He initialisation scaled by 0.1 keeps the deep residual stack stable
            nn.init.kaiming_normal_(layer.weight)
            layer.weight.data.mul_(0.1)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.convs[:-1]:
            features.append(F.leaky_relu(layer(torch.cat(features, dim=1)), LEAKY_SLOPE))
        return x + self.residual_scale * self.convs[-1](torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three residual dense blocks inside a scaled residual connection."""

    def __init__(
        self, num_features: int, growth_channels: int, *, spatial_dims: int = 2, residual_scale: float = 0.2
    ) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.blocks = nn.Sequential(
            *(
                ResidualDenseBlock(
                    num_features, growth_channels, spatial_dims=spatial_dims, residual_scale=residual_scale
                )
                for _ in range(3)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.blocks(x)


class RRDBNet(nn.Module):
    """ESRGAN generator (Wang et al., 2018), as in seed 002.

    conv, `num_blocks` RRDBs and a conv inside a long skip, then per factor 2 a nearest x2 resize, conv and
    LeakyReLU, then conv, LeakyReLU, conv. `scale=1` skips the upsampling (same-size enhancement). ESRGAN's
    own size is `num_features=64, growth_channels=32, num_blocks=23`; the defaults here are CPU-sized.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale: 1, 2, 4 or another power of two.
        spatial_dims: 2 or 3.
        num_features: trunk width.
        growth_channels: growth of the dense blocks.
        num_blocks: number of RRDBs.
        residual_scale: residual scaling inside the blocks (0.2).
        out_activation: "none" (ESRGAN), "sigmoid", "sigmoid01" or "tanh".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *(scale S))
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        spatial_dims: int = 2,
        num_features: int = 32,
        growth_channels: int = 16,
        num_blocks: int = 6,
        residual_scale: float = 0.2,
        out_activation: str = "none",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        _check_scale(scale, powers_of_two=True)
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.scale = scale
        conv_layer = conv(spatial_dims)
        self.conv_first = conv_layer(in_channels, num_features, 3, padding=1)
        self.body = nn.Sequential(
            *(
                RRDB(num_features, growth_channels, spatial_dims=spatial_dims, residual_scale=residual_scale)
                for _ in range(num_blocks)
            )
        )
        self.conv_body = conv_layer(num_features, num_features, 3, padding=1)
        self.upsample_convs = nn.ModuleList(
            conv_layer(num_features, num_features, 3, padding=1) for _ in range(int(math.log2(scale)))
        )
        self.conv_hr = conv_layer(num_features, num_features, 3, padding=1)
        self.conv_last = conv_layer(num_features, out_channels, 3, padding=1)
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_spatial(x, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        features = self.conv_first(x)
        features = features + self.conv_body(self.body(features))
        for layer in self.upsample_convs:
            features = F.leaky_relu(layer(F.interpolate(features, scale_factor=2.0, mode="nearest")), LEAKY_SLOPE)
        return self.out_activation(self.conv_last(F.leaky_relu(self.conv_hr(features), LEAKY_SLOPE)))


class FCN(nn.Module):
    """The fully convolutional baselines of seed 004, same size in and out.

    FCN-1 (`downsamplings=0`, after Bahrami et al.): `num_layers` conv-norm-ReLU layers, then a 3x3 conv to
    the output. FCN-2 (`downsamplings=k`): one conv-norm-ReLU layer, k times (2x max-pool, conv-norm-ReLU with
    doubled width), the remaining `num_layers - 1 - k` conv-norm-ReLU layers at the coarsest level, k times
    (4x4 stride-2 transposed conv, norm, ReLU), and the output conv. No skip connections (unlike a U-Net).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        num_layers: conv-norm-ReLU layers (transposed and output convs not counted).
        channels: width at full resolution.
        kernel_size: kernel of the conv-norm-ReLU layers.
        downsamplings: 0 for FCN-1, k > 0 for FCN-2 (inputs divisible by 2**k).
        norm: "batch" (seed), "instance" or "none".
        out_activation: "none", "sigmoid", "sigmoid01" or "tanh".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *S)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        num_layers: int = 4,
        channels: int = 64,
        kernel_size: int = 3,
        downsamplings: int = 0,
        norm: str = "batch",
        out_activation: str = "none",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        if downsamplings < 0 or num_layers < downsamplings + 1:
            raise ValueError(
                f"need downsamplings >= 0 and num_layers >= downsamplings + 1, got {num_layers} and {downsamplings}"
            )
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.downsamplings = downsamplings

        def block(cin: int, cout: int) -> nn.Module:
            return ConvNormAct(cin, cout, spatial_dims=spatial_dims, kernel_size=kernel_size, norm=norm, act="relu")

        layers: list[nn.Module] = [block(in_channels, channels)]
        width = channels
        for _ in range(downsamplings):
            layers += [max_pool(spatial_dims)(2), block(width, width * 2)]
            width *= 2
        layers += [block(width, width) for _ in range(num_layers - 1 - downsamplings)]
        for _ in range(downsamplings):
            layers += [
                conv_transpose(spatial_dims)(width, width // 2, 4, stride=2, padding=1, bias=norm == "none"),
                norm_layer(norm, spatial_dims, width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers.append(conv(spatial_dims)(width, out_channels, 3, padding=1))
        self.layers = nn.Sequential(*layers)
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_divisible(x, 2**self.downsamplings, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        return self.out_activation(self.layers(x))


class DCSRN(nn.Module):
    """Densely connected super-resolution network (Chen et al., 2018), as in seed 004; same size in and out.

    A 3x3 conv to `initial_channels`, a dense block of `num_layers` units (norm, ELU, 3x3 conv adding
    `growth_channels`; each unit sees the concatenation of everything before it), and a 3x3 conv from the
    whole concatenation to the output. The input is the low-resolution image already resampled to the
    target grid.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        num_layers: units in the dense block (4).
        growth_channels: channels added per unit (24).
        initial_channels: width of the first conv (24 in seed 004; 2 * growth in Chen et al.).
        norm: "batch", "instance" or "none".
        out_activation: "none", "sigmoid", "sigmoid01" or "tanh".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *S)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        num_layers: int = 4,
        growth_channels: int = 24,
        initial_channels: int = 24,
        norm: str = "batch",
        out_activation: str = "none",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        conv_layer = conv(spatial_dims)
        self.conv_first = conv_layer(in_channels, initial_channels, 3, padding=1)
        self.units = nn.ModuleList(
            nn.Sequential(
                norm_layer(norm, spatial_dims, initial_channels + i * growth_channels),
                nn.ELU(inplace=False),
                conv_layer(initial_channels + i * growth_channels, growth_channels, 3, padding=1),
            )
            for i in range(num_layers)
        )
        self.conv_last = conv_layer(initial_channels + num_layers * growth_channels, out_channels, 3, padding=1)
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_spatial(x, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        features = self.conv_first(x)
        for unit in self.units:
            features = torch.cat([features, unit(features)], dim=1)
        return self.out_activation(self.conv_last(features))


class DCGANGenerator(nn.Module):
    """Encoder-decoder DCGAN generator of seed 004, same size in and out, without skip connections.

    Encoder: 4x4 stride-2 convs to `channels[:-1]` (norm from the second on, LeakyReLU 0.2); bottleneck: a
    3x3 conv to `channels[-1]` (norm, ReLU); decoder: 4x4 stride-2 transposed convs back through the encoder
    widths (norm, ReLU, optional dropout); output: a 3x3 conv and `out_activation`.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        channels: encoder widths, the last one being the bottleneck's; inputs must be divisible by
            2**(len(channels) - 1).
        norm: "batch" (DCGAN), "instance" or "none".
        dropout: dropout in the decoder.
        out_activation: "sigmoid01" ([0, 1]), "tanh", "sigmoid" or "none".

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *S)
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        channels: Sequence[int] = (64, 128, 256),
        norm: str = "batch",
        dropout: float = 0.0,
        out_activation: str = "sigmoid01",
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        channels = int_tuple(channels, "channels")
        if not channels:
            raise ValueError("channels must not be empty")
        self.config = json_kwargs(locals())
        self.in_channels = in_channels
        self.spatial_dims = spatial_dims
        self.downsamplings = len(channels) - 1
        encoder: list[nn.Module] = []
        width = in_channels
        for index, next_width in enumerate(channels[:-1]):
            encoder.append(
                ConvNormAct(
                    width,
                    next_width,
                    spatial_dims=spatial_dims,
                    kernel_size=4,
                    stride=2,
                    padding=1,
                    norm="none" if index == 0 else norm,
                    act="leaky_relu",
                )
            )
            width = next_width
        encoder.append(ConvNormAct(width, channels[-1], spatial_dims=spatial_dims, norm=norm, act="relu"))
        width = channels[-1]
        decoder: list[nn.Module] = []
        for next_width in reversed(channels[:-1]):
            decoder += [
                conv_transpose(spatial_dims)(width, next_width, 4, stride=2, padding=1, bias=norm == "none"),
                norm_layer(norm, spatial_dims, next_width),
                nn.ReLU(inplace=True),
            ]
            if dropout > 0:
                decoder.append(MCDropout(dropout))
            width = next_width
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)
        self.to_output = conv(spatial_dims)(width, out_channels, 3, padding=1)
        self.out_activation = OutputActivation(out_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_divisible(x, 2**self.downsamplings, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        return self.out_activation(self.to_output(self.decoder(self.encoder(x))))
