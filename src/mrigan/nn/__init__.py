"""Networks: plain `nn.Module`s with keyword constructors, 2D and 3D through `spatial_dims`.

Every network stores its constructor arguments as JSON-ready `net.config`, so `type(net)(**net.config)`
rebuilds it (a checkpoint card keeps the class path and this dict).
"""

from __future__ import annotations

from mrigan.nn.discriminators import (
    DCGANDiscriminator,
    MultiScaleDiscriminator,
    PatchDiscriminator,
    SRGANDiscriminator,
)
from mrigan.nn.features import MRIFeatureNet, load_feature_net, save_feature_net
from mrigan.nn.init import init_weights
from mrigan.nn.layers import FlipAverage, count_parameters, enable_mc_dropout
from mrigan.nn.sr import DCSRN, FCN, SRCNN001, DCGANGenerator, FullyConvSR, RRDBNet, SRGANGenerator
from mrigan.nn.unet import UNetGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DCSRN",
    "FCN",
    "FlipAverage",
    "FullyConvSR",
    "MRIFeatureNet",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "RRDBNet",
    "SRCNN001",
    "SRGANDiscriminator",
    "SRGANGenerator",
    "UNetGenerator",
    "count_parameters",
    "enable_mc_dropout",
    "init_weights",
    "load_feature_net",
    "save_feature_net",
]
