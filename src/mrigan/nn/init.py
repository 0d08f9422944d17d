"""Weight initialisation: He (kaiming), pix2pix normal(0, 0.02), or Xavier."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize

INIT_KINDS = ("kaiming", "normal", "xavier")

_CONV_LIKE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
_NORMS = (nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm)


def init_weights(
    module: nn.Module, kind: str = "kaiming", gain: float | None = None, negative_slope: float = 0.2
) -> nn.Module:
    """Initialise every convolution, transposed convolution and linear layer of `module`, in place.

    Biases become 0. Affine normalisation layers get weight 1 and bias 0, or weight ~ N(1, gain) for "normal"
    (pix2pix). Spectrally normalised layers are initialised through their original weight.

    Args:
        module: the network.
        kind: "kaiming" (He et al., 2015, fan-in, for LeakyReLU with `negative_slope`; UMR-GAN),
            "normal" (N(0, gain); pix2pix / CycleGAN / DCGAN) or "xavier" (Glorot normal with `gain`).
        gain: "normal": the standard deviation (default 0.02); "xavier": the gain (default 1); "kaiming": a
            factor applied after initialisation (default 1; ESRGAN scales residual blocks by 0.1).
        negative_slope: LeakyReLU slope assumed by "kaiming" (0 for ReLU).

    Returns:
        `module`, for chaining.
    """
    if kind not in INIT_KINDS:
        raise ValueError(f"kind must be one of {INIT_KINDS}, got {kind!r}")
    for layer in module.modules():
        if isinstance(layer, _CONV_LIKE):
            weight = (
                layer.parametrizations["weight"].original
                if parametrize.is_parametrized(layer, "weight")
                else layer.weight
            )
            if kind == "kaiming":
                nn.init.kaiming_normal_(weight, a=negative_slope, mode="fan_in", nonlinearity="leaky_relu")
                if gain is not None:
                    weight.data.mul_(gain)
            elif kind == "normal":
                nn.init.normal_(weight, 0.0, 0.02 if gain is None else gain)
            else:
                nn.init.xavier_normal_(weight, gain=1.0 if gain is None else gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, _NORMS) and getattr(layer, "weight", None) is not None:
            if kind == "normal":
                nn.init.normal_(layer.weight, 1.0, 0.02 if gain is None else gain)
            else:
                nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module
