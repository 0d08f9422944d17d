"""U-Net generator: the UMR-GAN generator (seed 000) and the pix2pix / CycleGAN U-Net (seeds 003, 004)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mrigan.nn.layers import (
    AdditiveAttentionGate,
    ChannelSpatialAttention,
    ConvNormAct,
    MCDropout,
    OutputActivation,
    ResidualBlock,
    check_channels,
    check_divisible,
    check_norm,
    check_spatial_dims,
    conv,
    conv_transpose,
    int_tuple,
    json_kwargs,
    linear_interpolation,
)
from mrigan.nn.layers import (
    norm as norm_layer,
)

UPSAMPLINGS = ("resize", "resize_conv", "transposed")
ATTENTIONS = ("channel_spatial", "additive")


class UpBlock(nn.Module):
    """One decoder step: double the resolution and change the channels, then norm, ReLU and dropout.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        upsampling: "resize" (3x3 conv at the coarse resolution, then (bi/tri)linear x2 resize, then norm
            and ReLU: a resize-convolution whose kernel acts at the coarse scale, a quarter (2D) or an eighth
            (3D) of the cost of convolving after the resize; the fixed smooth resize cannot checkerboard),
            "resize_conv" (nearest x2 resize, then 3x3 conv: Odena et al., 2016) or "transposed"
            (4x4 stride-2 transposed conv, as pix2pix).
        norm: "instance", "batch" or "none".
        dropout: dropout probability after the ReLU.

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *(2 S))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        spatial_dims: int = 2,
        upsampling: str = "resize",
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.upsampling = upsampling
        self.interpolation = linear_interpolation(spatial_dims)
        bias = norm == "none"
        if upsampling == "transposed":
            self.conv = conv_transpose(spatial_dims)(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)
        else:
            self.conv = conv(spatial_dims)(in_channels, out_channels, 3, padding=1, bias=bias)
        self.norm = norm_layer(norm, spatial_dims, out_channels)
        self.act = nn.ReLU(inplace=True)
        self.dropout = MCDropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsampling == "resize_conv":
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.conv(x)
        if self.upsampling == "resize":
            x = F.interpolate(x, scale_factor=2.0, mode=self.interpolation, align_corners=False)
        return self.dropout(self.act(self.norm(x)))


class UNetGenerator(nn.Module):
    """U-Net with residual bottleneck and attention (UMR-GAN), or a plain pix2pix / CycleGAN U-Net.

    Layout, for `depth` = D and widths c_i = min(base_channels * 2**i, max_channels):

    * stem: 3x3 conv to c_0 and LeakyReLU(0.2), full resolution, no normalisation;
    * encoder level i = 1..D: 3x3 stride-2 conv to c_i, norm, LeakyReLU(0.2) (the innermost level has no
      norm, as in pix2pix, so a 1-voxel bottleneck works when there are no residual blocks);
    * bottleneck: `residual_blocks` residual blocks (conv-norm-ReLU-conv-norm + identity) at level D;
    * decoder level l = D-1..0: `UpBlock` to c_l (norm, ReLU, dropout at `dropout_levels`), an attention
      step at `attention_levels`, then concatenation with the encoder's level-l features (skip);
    * head: 3x3 conv from 2 c_0 to `out_channels`, then `out_activation`.

    Attention (`attention`): "channel_spatial" applies CBAM (channel gate then spatial gate, `ChannelSpatialAttention`)
    to the concatenated [decoder, skip] features, the "channel-spatial gating" of UMR-GAN; "additive" instead
    gates the skip with the Attention-U-Net additive gate driven by the decoder features (`AdditiveAttentionGate`).

    Defaults are the UMR-GAN layout at CPU-friendly width (16 to 112 channels, 1.65 M parameters; 1/64
    bottleneck, 2 residual blocks, attention at the two deepest decoder stages, tanh mapped to [0, 1]).
    The seed-003 CycleGAN / pix2pix U-Net is
    `depth=8, base_channels=64, max_channels=512, residual_blocks=0, attention_levels=(), norm="instance",
    dropout=0.5, upsampling="transposed", out_activation="tanh"`.

    Args:
        in_channels: input channels (UMR-GAN: image, mask, sigma map, two neighbours, class one-hot).
        out_channels: output channels.
        spatial_dims: 2 or 3.
        depth: number of /2 levels; inputs must be divisible by 2**depth.
        base_channels: width at full resolution.
        max_channels: width cap for the deep levels.
        residual_blocks: residual blocks in the bottleneck.
        attention: "channel_spatial" (CBAM) or "additive" (Attention U-Net skip gate).
        attention_levels: decoder levels (0 = full resolution, depth - 1 = deepest) that get attention;
            None means the two deepest, () none.
        norm: "instance", "batch" or "none", for every layer but the stem, the innermost encoder level and
            the head.
        dropout: dropout probability in the decoder at `dropout_levels` (pix2pix: 0.5).
        dropout_levels: decoder levels with dropout; None means the three deepest (pix2pix).
        mc_dropout: keep dropout active in eval mode (Monte-Carlo dropout); see also `enable_mc_dropout`.
        upsampling: "resize" (conv at the coarse level then linear x2 resize; default, cheapest, no
            checkerboard), "resize_conv" (nearest x2 then conv) or "transposed" (pix2pix).
        out_activation: "sigmoid01" ((tanh + 1) / 2, [0, 1]), "tanh" ([-1, 1]), "sigmoid" or "none".
        residual_output: predict a residual added to the first `out_channels` input channels; the sum is
            clamped to the output activation's range ("sigmoid01": [0, 1], "tanh": [-1, 1]) instead of
            passing through the activation.

    Shape:
        (N, in_channels, *S) -> (N, out_channels, *S), every size in S divisible by 2**depth.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        spatial_dims: int = 2,
        depth: int = 6,
        base_channels: int = 16,
        max_channels: int = 112,
        residual_blocks: int = 2,
        attention: str = "channel_spatial",
        attention_levels: Sequence[int] | None = None,
        norm: str = "instance",
        dropout: float = 0.0,
        dropout_levels: Sequence[int] | None = None,
        mc_dropout: bool = False,
        upsampling: str = "resize",
        out_activation: str = "sigmoid01",
        residual_output: bool = False,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims)
        check_norm(norm)
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if residual_output and in_channels < out_channels:
            raise ValueError("residual_output needs at least out_channels input channels to add the residual to")
        if attention_levels is None:
            attention_levels = tuple(range(depth - 1, max(depth - 3, -1), -1))
        if dropout_levels is None:
            dropout_levels = tuple(range(depth - 1, max(depth - 4, -1), -1))
        attention_levels = int_tuple(attention_levels, "attention_levels")
        dropout_levels = int_tuple(dropout_levels, "dropout_levels")
        for name, levels in (("attention_levels", attention_levels), ("dropout_levels", dropout_levels)):
            if any(not 0 <= level < depth for level in levels):
                raise ValueError(f"{name} must lie in [0, {depth - 1}], got {levels}")
        self.config = json_kwargs(locals())  # resolved levels, so a checkpoint card pins them

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.spatial_dims = spatial_dims
        self.depth = depth
        self.norm = norm
        self.attention = attention
        self.attention_levels = attention_levels
        self.residual_output = residual_output
        widths = [min(base_channels * 2**level, max_channels) for level in range(depth + 1)]
        self.widths = tuple(widths)

        self.stem = ConvNormAct(in_channels, widths[0], spatial_dims=spatial_dims, norm="none", act="leaky_relu")
        self.encoder = nn.ModuleList(
            ConvNormAct(
                widths[level - 1],
                widths[level],
                spatial_dims=spatial_dims,
                kernel_size=3,
                stride=2,
                norm=norm if level < depth else "none",
                act="leaky_relu",
            )
            for level in range(1, depth + 1)
        )
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(widths[depth], spatial_dims=spatial_dims, norm=norm) for _ in range(residual_blocks))
        )
        self.decoder = nn.ModuleList()
        self.attention_blocks = nn.ModuleDict()
        for level in range(depth - 1, -1, -1):
            in_width = widths[depth] if level == depth - 1 else 2 * widths[level + 1]
            self.decoder.append(
                UpBlock(
                    in_width,
                    widths[level],
                    spatial_dims=spatial_dims,
                    upsampling=upsampling,
                    norm=norm,
                    dropout=dropout if level in dropout_levels else 0.0,
                )
            )
            if level in attention_levels:
                if attention == "channel_spatial":
                    block: nn.Module = ChannelSpatialAttention(2 * widths[level], spatial_dims=spatial_dims)
                else:
                    block = AdditiveAttentionGate(widths[level], widths[level], spatial_dims=spatial_dims)
                self.attention_blocks[str(level)] = block
        self.head = conv(spatial_dims)(2 * widths[0], out_channels, 3, padding=1)
        self.out_activation = OutputActivation(out_activation)
        if mc_dropout:
            for layer in self.modules():
                if isinstance(layer, MCDropout):
                    layer.always_on = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_divisible(x, 2**self.depth, self.spatial_dims, type(self).__name__)
        check_channels(x, self.in_channels, type(self).__name__)
        if len(self.bottleneck) and self.norm == "instance" and all(s == 2**self.depth for s in x.shape[2:]):
            raise ValueError(
                f"{type(self).__name__}: input {tuple(x.shape[2:])} leaves a single voxel in the bottleneck, where "
                f"instance norm is undefined; use a larger input, a smaller depth, residual_blocks=0 or another norm"
            )
        skips = [self.stem(x)]
        for down in self.encoder:
            skips.append(down(skips[-1]))
        features = self.bottleneck(skips.pop())
        for up in self.decoder:
            level = len(skips) - 1
            features = up(features)
            skip = skips.pop()
            block = self.attention_blocks[str(level)] if str(level) in self.attention_blocks else None
            if isinstance(block, AdditiveAttentionGate):
                skip = block(skip, features)
            features = torch.cat([features, skip], dim=1)
            if isinstance(block, ChannelSpatialAttention):
                features = block(features)
        out = self.head(features)
        if not self.residual_output:
            return self.out_activation(out)
        out = x[:, : self.out_channels] + out
        value_range = self.out_activation.value_range
        return out if value_range is None else out.clamp(*value_range)
