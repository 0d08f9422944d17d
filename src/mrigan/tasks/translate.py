"""Translation (seeds 003, 004): CycleGAN for unpaired T1 <-> T2, the pix2pix family for paired low -> high field.

CycleGAN (seed 003; Zhu et al., 2017): generators G: A -> B ("generator") and F: B -> A ("generator_ba"), U-Nets
with stride-2 convolutions, skips and dropout 0.5; PatchGAN discriminators with instance norm on each domain.

    L_G = adversarial * (L_adv(D_B(G(a))) + L_adv(D_A(F(b))))
          + cycle * (|F(G(a)) - a| + |G(F(b)) - b|) + cycle * identity * (|G(b) - b| + |F(a) - a|)

with LSGAN losses, cycle 10, identity 0.5 (relative to the cycle weight, as in CycleGAN's code and seed 003's
TensorFlow tutorial), the discriminator loss halved ("discriminator weight 0.5"), D fed from a pool of 50
past fakes. Images are in [0, 1] with a (tanh + 1) / 2 output; seed 003's [-1, 1] is the same network up to the
first layer's bias, but its L1 terms are twice ours, so cycle 10 here weighs like cycle 5 there.

Paired family (seed 004; pix2pix, Isola et al., 2017): one generator, "unet" (pix2pix U-Net), "dcgan" (seed
004's encoder-decoder, models 1-4) or "dcsrn" (its densely connected CNN baseline), with a PatchGAN
("patch", conditioned on the input, pix2pix), a DCGAN discriminator ("dcgan", unconditional, as seed 004's
models 1-8) or none (a plain CNN):

    L_G = adversarial * L_adv + l1 * |G(x) - y| + l2 * (G(x) - y)^2 + gdl * GDL + perceptual * P

(pix2pix: BCE + 100 L1), with an optional fixed sharpening kernel after the generator (seed 004's model 6)
and separate G and D learning rates. It trains on random 2D patches of the volumes (seed 004: 64 x 64, 300 per
volume) or 3D patches, and runs on whole slices or volumes by stitching patches with blended overlaps.

Both train on simulated domains of the sample anatomies by default, or on a user's folders: registered pairs
(`data.pairs`) or two unpaired domains (`data.domain_a`, `data.domain_b`), split 70 / 20 / 10 by subject.

Both: the D step first, then the G step; validation scores each translation against the noise-free simulated
counterpart (PSNR / SSIM over the slice and inside the brain, `mrigan.metrics.image.score`); exported
generators carry task "translate" and their source and target domains in the model card.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from mrigan.data.translation import DomainConfig, PatchGrid, TranslationVolume
from mrigan.engine import EarlyStoppingConfig, TrainerConfig
from mrigan.errors import UsageError
from mrigan.losses import IntensityConsistencyLoss, IntensityDistributionLoss
from mrigan.tasks.restore import INTENSITY, OptimConfig, resolve_repo_path

NETWORKS = {"unet": "UNetGenerator", "dcgan": "DCGANGenerator", "dcsrn": "DCSRN"}
"""Generator kinds -> classes of `mrigan.nn`."""

DEFAULT_NORM = {"unet": "instance", "dcgan": "batch", "dcsrn": "batch"}

SHARPEN_KERNELS: dict[str, list[list[float]]] = {
    "3x3": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "5x5": [[-v / 256 for v in row] for row in
            [[1, 4, 6, 4, 1], [4, 16, 24, 16, 4], [6, 24, -476, 24, 6], [4, 16, 24, 16, 4], [1, 4, 6, 4, 1]]],
}
"""Seed 004's sharpening kernels (each sums to 1, so flat regions pass unchanged)."""

HELD_OUT = ("colin27", "colin27-hires")
SCORES = ("psnr", "ssim", "psnr_fg", "ssim_fg")


# ------------------------------------------------------------------------------------------------ config
@dataclass
class GeneratorConfig:
    """The generator: a kind and its size (seed 003's U-Net: depth 8, base 64, max 512, dropout 0.5).

    Attributes:
        kind: "unet" (pix2pix / CycleGAN U-Net: stride-2 convs, skips, dropout, transposed convs), "dcgan"
            (seed 004's encoder-decoder without skips), "dcsrn" (seed 004's densely connected CNN).
        depth: /2 levels of "unet" and "dcgan" (up to 8); patches must be multiples of 2 ** depth.
        base_channels, max_channels: widths ("dcsrn": base_channels is its initial width and growth rate).
        dropout: decoder dropout ("unet": the three deepest levels).
        norm: None takes the kind's usual norm (unet: instance; dcgan, dcsrn: batch).
        sharpen: seed 004's fixed sharpening kernel after the generator: "none", "3x3" or "5x5".
        kwargs: more constructor kwargs of the network class; they override the above.
    """

    kind: Literal["unet", "dcgan", "dcsrn"] = "unet"
    depth: int = 5
    base_channels: int = 16
    max_channels: int = 128
    dropout: float = 0.5
    norm: Literal["instance", "batch", "none"] | None = None
    sharpen: Literal["none", "3x3", "5x5"] = "none"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DiscriminatorConfig:
    """The discriminator.

    Attributes:
        kind: "patch" (PatchGAN, one logit per receptive field), "dcgan" (one logit per patch; needs square
            training patches) or "none" (no adversarial term).
        conditional: D sees [input, image] (pix2pix) rather than the image alone (seed 004's DCGANs, CycleGAN).
    """

    kind: Literal["patch", "dcgan", "none"] = "patch"
    base_channels: int = 32
    n_layers: int = 3
    norm: Literal["instance", "batch", "none"] = "instance"
    spectral_norm: bool = False
    conditional: bool = True


@dataclass
class DataConfig:
    """Simulated source and target domains of the sample anatomies (or a user's folders), and how they are cut.

    Attributes:
        samples: sample anatomies (never colin27: the bench's held-out brain); unused when folders are given.
        source, target: the two domains (`mrigan.data.translation.DomainConfig`).
        max_slices: keep this many central axial slices per anatomy (quick runs); None keeps all.
        zooms: each anatomy also enters on grids this many times finer (its tissue maps resampled, then
            simulated): [1, 2] trains a model for 0.5 mm scans on 1 mm anatomies as well as on their own grids.
        validation_fraction: central slab of each volume kept for validation.
        validation_slices: validation samples (spread over the slab).
        patch: training crop / patch: (h, w) of axial slices, or (h, w, d) for 3D generators (pix2pix family).
        patches_per_volume: pix2pix family: patches per volume per epoch (seed 004: 300); None: one per slice.
        unpaired: CycleGAN: A and B from disjoint "slices" (alternate slabs of `slab` slices of each volume) or
            from different "subjects" (needs two anatomies or more).
        clean_targets: pix2pix family: train towards the noise-free target rather than the target as acquired.
        anywhere: chance that a training patch is centred on any pixel rather than on the brain (background
            is part of every stitched grid and whole slice).
        batch_size, num_workers, min_foreground: as in restoration.
        pairs: a user's registered pairs instead of simulated ones: a folder with `source/` and `target/`
            sub-folders of NIfTI volumes (or 2D images), one subject per file, matched by file name, each pair on
            one grid (`mrigan register MOVING FIXED --fixed-out` writes such pairs). `source` and `target` then
            only name the domains in the model card: set them to match the data.
        domain_a, domain_b: CycleGAN on a user's unpaired folders (one subject per file); validation then scores
            the round trips A -> B -> A and B -> A -> B only, as there are no true pairs.
        split: train / validation / test shares of the subjects of user folders (seeded by trainer.seed); test
            subjects are never loaded, and their names go into the model card.
        n4: N4 bias-field correction of user volumes before the 0.1 / 99.9 percentile clipping and scaling to
            [0, 1] that every volume gets.
        input_gamma, input_scale, input_noise: training inputs as scans of other sequences and noise levels
            give them. Each image a generator is given straight from the data (CycleGAN: A to G and B to F, both
            for the translation and for the identity term; pix2pix: the source) is raised to a power drawn
            log-uniformly from the range `input_gamma` (`random_gamma`; [1, 1]: off), multiplied by a factor
            drawn uniformly from [1 / input_scale, 1] (1: off; a real scan whose brightest 0.1% are vessels or
            fat puts white matter below the simulations' level), and gets Gaussian noise of a standard deviation
            drawn uniformly from [0, input_noise] (0: off), one draw of each per image; what the output is scored
            against (the cycle's and the identity term's images, the paired target) stays as simulated. Scans
            of one contrast differ in their tissue levels with the sequence (a T1w's CSF against white matter:
            spin echo vs gradient echo vs the real Colin27's FLASH) and in their noise, and the generators learn
            to give one translation for all of them (`benchmarks/translation_sequences.py` and
            `benchmarks/translation_real_scans.py` measure it).
    """

    samples: list[str] = field(default_factory=lambda: ["mni152", "inia19"])
    source: DomainConfig = field(default_factory=lambda: DomainConfig(contrast="t1w"))
    target: DomainConfig = field(default_factory=lambda: DomainConfig(contrast="t2w"))
    max_slices: int | None = None
    zooms: list[float] = field(default_factory=lambda: [1.0])
    validation_fraction: float = 0.1
    validation_slices: int = 16
    patch: list[int] = field(default_factory=lambda: [64, 64])
    patches_per_volume: int | None = None
    unpaired: Literal["slices", "subjects"] = "slices"
    slab: int = 8
    clean_targets: bool = True
    anywhere: float = 0.2
    batch_size: int = 4
    num_workers: int = 0
    min_foreground: float = 0.05
    pairs: str | None = None
    domain_a: str | None = None
    domain_b: str | None = None
    split: tuple[float, float, float] = (0.7, 0.2, 0.1)
    n4: bool = False
    input_gamma: tuple[float, float] = (1.0, 1.0)
    input_scale: float = 1.0
    input_noise: float = 0.0

    def __post_init__(self) -> None:
        low, high = self.input_gamma
        if not 0 < low <= high:
            raise ValueError(f"data.input_gamma must be a range [low, high] with 0 < low <= high, "
                             f"got {self.input_gamma}")
        if not self.input_scale >= 1:
            raise ValueError(f"data.input_scale must be >= 1 (1: off), got {self.input_scale}")
        if not self.input_noise >= 0:
            raise ValueError(f"data.input_noise must be >= 0 (0: off), got {self.input_noise}")

    def augmented(self, images: torch.Tensor) -> torch.Tensor:
        """A batch of training inputs as other sequences and noise levels give them (`input_gamma`, `input_scale`,
        `input_noise`)."""
        images = random_gamma(images, *self.input_gamma)
        per_image = (images.shape[0],) + (1,) * (images.dim() - 1)
        if self.input_scale != 1:
            low = 1 / self.input_scale
            images = images * (low + (1 - low) * torch.rand(per_image, device=images.device)).to(images.dtype)
        return _with_noise_up_to(images, self.input_noise)

    def user_folders(self) -> bool:
        """Whether the data are a user's folders rather than simulated sample anatomies."""
        return bool(self.pairs or self.domain_a or self.domain_b)


@dataclass
class AdversarialConfig:
    """The adversarial term's weight (0: no discriminator) and loss ("vanilla" is BCE)."""

    adversarial: float = 1.0
    adversarial_mode: Literal["vanilla", "lsgan", "hinge"] = "vanilla"


@dataclass
class CycleLossConfig(AdversarialConfig):
    """CycleGAN loss weights (seed 003: LSGAN, cycle 10, identity 0.5 of it, a pool of 50 past fakes).

    `cycle_noise` (0: off) is the standard deviation, on the [0, 1] intensity scale, of Gaussian noise added to
    each translation before it is translated back for the cycle loss (Bashkirova et al. 2019, "adversarial
    self-defense"): a generator can then no longer pass the input's details, its noise included, through a faint
    pattern hidden in its output, which shows up as grain against the true image.

    `consistency` (0: off) weighs `mrigan.losses.IntensityConsistencyLoss` of each translation against its input
    inside the brain (G(a) against a, F(b) against b): the part of a translation that the input's intensity does
    not explain, e.g. one pocket of CSF rendered dark while another turns bright. It assumes that each tissue
    has one intensity per contrast, as in simulated domains and, up to bias fields, in skull-stripped scans.
    `consistency_measure` picks the plain spread ("variance") or the spread over the translation's variance
    ("correlation_ratio", which does not reward a flatter contrast).

    `cycle_scan_noise` (0: off) adds a second cycle term that trains each generator alone (the first translation
    detached) to translate back a translation carrying this much noise: the scans' own level (about 0.025 at
    SNR 40). A generator that only ever translates back inputs with `cycle_noise` on them is calibrated for that
    noise, not for real scans (see `benchmarks/translation_input_noise.py`); this term calibrates it for scans
    while `cycle_noise` still keeps the first generator from hiding the input's noise in grain.

    `discriminator_noise` (0: off) is the standard deviation, on the [0, 1] scale, of Gaussian noise added to each
    translation a discriminator judges (in its own step and in the generator's adversarial term), as AmbientGAN
    (Bora et al. 2018) judges a generator through the measurement: real scans carry acquisition noise and the
    noise-free translation the task wants does not, so without it a discriminator can tell them apart by the noise
    alone and rewards a generator that draws grain. Set it near the training scans' noise (about 0.025 for the
    simulated domains at SNR 40).

    `distribution` (0: off) weighs `mrigan.losses.IntensityDistributionLoss` of each translation inside the brain
    against the other domain's real scans (unpaired histogram matching, from pools of recent batches): the
    discriminators hardly see a translation's levels, so a tissue rendered a few hundredths too bright goes
    uncorrected without it. `distribution_noise` is the noise added to translations before their histogram is
    compared with the scans' (the scans' own level, about 0.025 at SNR 40, so matching does not ask for grain).
    It assumes both domains hold the same tissues; the simulated domains' slabs do not quite
    (`benchmarks/translation_domain_balance.py`), and it did not help there (see the README).

    `identity_noise` (0: off) adds Gaussian noise, its standard deviation drawn uniformly from [0, identity_noise]
    per image, to the identity term's inputs only: F(a + n) is compared with a (and G(b + n) with b), so each
    generator learns to return an image of its own target contrast less some of its noise (seed 003's
    reconstructions), while the translations are trained on the images as given. `identity_noise_min` raises the
    draw's lower end: at the scans' own level (identity_noise_min = identity_noise = 0.025 at SNR 40) the pairs
    are Noisier2Noise's (Moran et al. 2020): the best output for such an input lies halfway between it and the
    clean image.
    """

    adversarial_mode: Literal["vanilla", "lsgan", "hinge"] = "lsgan"
    cycle: float = 10.0
    identity: float = 0.5
    pool_size: int = 50
    cycle_noise: float = 0.0
    consistency: float = 0.0
    consistency_measure: Literal["variance", "correlation_ratio"] = "variance"
    cycle_scan_noise: float = 0.0
    discriminator_noise: float = 0.0
    distribution: float = 0.0
    distribution_noise: float = 0.0
    identity_noise: float = 0.0
    identity_noise_min: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cycle_noise", "cycle_scan_noise", "consistency", "discriminator_noise", "distribution",
                     "distribution_noise", "identity_noise", "identity_noise_min"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name} must be >= 0 (got {getattr(self, name)})")
        if self.identity_noise_min > self.identity_noise:
            raise ValueError(f"loss.identity_noise_min ({self.identity_noise_min}) must not exceed "
                             f"loss.identity_noise ({self.identity_noise})")


@dataclass
class PairedLossConfig(AdversarialConfig):
    """Paired loss weights (pix2pix: BCE + 100 L1; seed 004's models use BCE 1 + L1 1.5-2, GDL, perceptual).

    `ssim` (0: off) weighs 1 - SSIM of the output against the target (`mrigan.losses.SSIMLoss`, 2D or 3D as the
    patches), the content term the restoration and super-resolution recipes also offer.
    """

    l1: float = 100.0
    l2: float = 0.0
    gdl: float = 0.0
    perceptual: float = 0.0
    ssim: float = 0.0
    feature_net: str = "models/mri_features.safetensors"


@dataclass
class StitchConfig:
    """How a patch model runs on whole slices or volumes: here for validation, in the card for inference.

    Attributes:
        mode: "patches" (a grid of training-size patches, blended) or "slices" (whole slices at once; 2D only).
        stride: grid step (seed 004: 20); patch - stride must be even.
        overlap_mode: "hann", "average" or "crop" (border trimming: each patch gives up half the overlap).
    """

    mode: Literal["patches", "slices"] = "patches"
    stride: int = 20
    overlap_mode: Literal["hann", "average", "crop"] = "hann"


def _trainer(max_steps: int, val_every: int) -> TrainerConfig:
    return TrainerConfig(
        max_steps=max_steps, log_every=20, val_every=val_every, checkpoint_every=val_every, keep_checkpoints=2,
        ema_decay=0.995, early_stopping=EarlyStoppingConfig(metric="ssim_fg", mode="max", patience=8),
    )


@dataclass
class CycleGANConfig:
    """An unpaired translation run; `mrigan train configs/translation/cyclegan_t1_t2.yaml`."""

    name: str = "cyclegan-t1-t2"
    task: str = "cyclegan"
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=lambda: DiscriminatorConfig(conditional=False))
    loss: CycleLossConfig = field(default_factory=CycleLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=lambda: _trainer(1500, 250))


def _field_data() -> DataConfig:
    return DataConfig(
        source=DomainConfig(contrast="t2w", sequence="gre", field_t=7.0, voxel_scale=2.0, snr=1.5),
        target=DomainConfig(contrast="t2w", sequence="gre", field_t=9.4, voxel_scale=1.0, snr=30.0),
        patches_per_volume=300, batch_size=8,
    )


@dataclass
class Pix2PixConfig:
    """A paired translation run; `mrigan train configs/translation/pix2pix_7t_9t4.yaml`."""

    name: str = "pix2pix-7t-9t4"
    task: str = "pix2pix"
    data: DataConfig = field(default_factory=_field_data)
    generator: GeneratorConfig = field(default_factory=lambda: GeneratorConfig(depth=6))
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: PairedLossConfig = field(default_factory=PairedLossConfig)
    stitch: StitchConfig = field(default_factory=StitchConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=lambda: _trainer(1500, 250))


# ------------------------------------------------------------------------------------------------ networks
class Sharpened(nn.Module):
    """A generator followed by one of seed 004's fixed sharpening kernels (in-plane, replicate padding).

    Args:
        network: class name in `mrigan.nn`.
        network_kwargs: its constructor kwargs.
        kernel: "3x3" or "5x5" (`SHARPEN_KERNELS`).

    Shape:
        as the network's.
    """

    def __init__(self, *, network: str, network_kwargs: dict[str, Any], kernel: str = "3x3") -> None:
        import mrigan.nn
        from mrigan.nn.layers import json_kwargs

        super().__init__()
        if kernel not in SHARPEN_KERNELS:
            raise ValueError(f"kernel must be one of {sorted(SHARPEN_KERNELS)}, got {kernel!r}")
        self.config = json_kwargs(locals())
        self.network = getattr(mrigan.nn, network)(**network_kwargs)
        weights = torch.tensor(SHARPEN_KERNELS[kernel], dtype=torch.float32)
        extra = (1,) * (int(network_kwargs.get("spatial_dims", 2)) - 2)
        self.register_buffer("kernel", weights.reshape(1, 1, *weights.shape, *extra), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        output = self.network(x)
        half = self.kernel.shape[2] // 2
        padding = [0, 0] * (output.ndim - 4) + [half, half, half, half]
        padded = F.pad(output, padding, mode="replicate")
        convolve = F.conv2d if output.ndim == 4 else F.conv3d
        return convolve(padded, self.kernel.to(output.dtype))


def network_kwargs(config: GeneratorConfig, spatial_dims: int) -> tuple[str, dict[str, Any]]:
    """(class name in `mrigan.nn`, constructor kwargs) of a generator config; one channel in and out, [0, 1]."""
    widths = [min(config.base_channels * 2**level, config.max_channels) for level in range(config.depth + 1)]
    by_kind: dict[str, dict[str, Any]] = {
        "unet": {"depth": config.depth, "base_channels": config.base_channels, "max_channels": config.max_channels,
                 "residual_blocks": 0, "attention_levels": [], "dropout": config.dropout, "upsampling": "transposed"},
        "dcgan": {"channels": widths, "dropout": config.dropout},
        "dcsrn": {"initial_channels": config.base_channels, "growth_channels": config.base_channels},
    }
    kwargs = {"in_channels": 1, "out_channels": 1, "spatial_dims": spatial_dims,
              "norm": config.norm or DEFAULT_NORM[config.kind], "out_activation": "sigmoid01",
              **by_kind[config.kind], **config.kwargs}
    return NETWORKS[config.kind], kwargs


def size_multiple(config: GeneratorConfig) -> int:
    """What every input side must be a multiple of: 2 ** (number of /2 levels) of the generator."""
    _, kwargs = network_kwargs(config, 2)
    levels = {"unet": kwargs.get("depth", 0), "dcgan": len(kwargs.get("channels", [0])) - 1}
    return 2 ** int(levels.get(config.kind, 0))


def build_generator(config: GeneratorConfig, spatial_dims: int = 2) -> nn.Module:
    """The generator of a config, initialised N(0, 0.02) as in pix2pix / CycleGAN."""
    import mrigan.nn
    from mrigan.nn import init_weights

    network, kwargs = network_kwargs(config, spatial_dims)
    if config.sharpen == "none":
        generator = getattr(mrigan.nn, network)(**kwargs)
    else:
        generator = Sharpened(network=network, network_kwargs=kwargs, kernel=config.sharpen)
    init_weights(generator, kind="normal")
    return generator


def build_discriminator(
    config: DiscriminatorConfig, *, in_channels: int, spatial_dims: int, patch: list[int]
) -> nn.Module | None:
    """The discriminator of a config (None for kind "none")."""
    from mrigan.nn import DCGANDiscriminator, PatchDiscriminator, init_weights

    if config.kind == "none":
        return None
    common = {"in_channels": in_channels, "spatial_dims": spatial_dims, "base_channels": config.base_channels,
              "norm": config.norm, "spectral_norm": config.spectral_norm}
    if config.kind == "patch":
        discriminator: nn.Module = PatchDiscriminator(n_layers=config.n_layers, **common)
    else:
        if len(set(patch)) != 1:
            raise UsageError(f"discriminator.kind dcgan needs square (cubic) patches, got data.patch={patch}")
        discriminator = DCGANDiscriminator(input_size=patch[0], max_channels=8 * config.base_channels, **common)
    init_weights(discriminator, kind="normal")
    return discriminator


class ImagePool:
    """A buffer of past generated images for the discriminator (Shrivastava et al., 2017; CycleGAN).

    Until it holds `size` images, every image is stored and returned; then each image is, with probability
    one half, swapped with a random stored one (the stored one is returned), else returned as it is. Draws use
    torch's global generator, which the engine checkpoints.
    """

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """A batch of the same shape: the new (detached) images, some of them replaced by older ones."""
        images = images.detach()
        if self.size <= 0:
            return images
        chosen = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                chosen.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(len(self.images), ()))
                chosen.append(self.images[index].to(image.device))
                self.images[index] = image.clone()
            else:
                chosen.append(image)
        return torch.stack(chosen)

    def state_dict(self) -> dict[str, Any]:
        return {"images": [image.cpu() for image in self.images]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.images = list(state["images"])


# ------------------------------------------------------------------------------------------------ scoring
def translation_scores(
    output: torch.Tensor, truth: torch.Tensor, batch: dict[str, torch.Tensor], prefix: str = ""
) -> dict[str, float]:
    """PSNR / SSIM (data range 1) of each image against its true counterpart, over the image ("field", not
    the padding) and inside the brain ("_fg"), averaged over the batch; and "bright_bias_fg", the mean of output
    minus truth inside the brain where the truth is 0.9 or more (the brightest tissue, e.g. CSF in a T2w): a
    translation that hedges between two tissues renders it too dark, which PSNR and SSIM hardly single out.
    """
    from mrigan.metrics.image import score

    rows, errors = [], []
    for n in range(output.shape[0]):
        brain = batch["brain"][n, 0].cpu().numpy() > 0.5
        masks = {"": batch["field"][n, 0].cpu().numpy() > 0.5, "fg": brain}
        image, true = output[n, 0].float().cpu().numpy(), truth[n, 0].float().cpu().numpy()
        scores = score(image, true, data_range=1.0, masks=masks)
        rows.append([scores[key] for key in SCORES])
        errors.append((image - true)[brain & (true >= 0.9)])
    bright = np.concatenate(errors)
    return {**{f"{prefix}{key}": float(value) for key, value in zip(SCORES, np.mean(rows, axis=0), strict=True)},
            f"{prefix}bright_bias_fg": float(bright.mean()) if bright.size else float("nan")}


def _numpy(images: torch.Tensor) -> np.ndarray:
    return images[:4].float().cpu().numpy()


# ------------------------------------------------------------------------------------------------ tasks
class _TranslationTask:
    """What both recipes share: optimizers, the discriminator step, EMA targets and model cards."""

    name = "translate"
    config: CycleGANConfig | Pix2PixConfig
    generators: dict[str, nn.Module]
    discriminators: dict[str, nn.Module]

    def _setup(self, config: CycleGANConfig | Pix2PixConfig) -> None:
        from mrigan.losses import AdversarialLoss

        multiple = size_multiple(config.generator)
        if any(side % multiple for side in config.data.patch):
            raise UsageError(f"data.patch {config.data.patch} must be a multiple of {multiple} (2 ** generator depth)")
        self.config = config
        self.adversarial = AdversarialLoss(mode=config.loss.adversarial_mode)
        self.training_data = training_data(config)  # listed now: user folders may move before the export

    def modules(self) -> dict[str, nn.Module]:
        return {**self.generators, **self.discriminators}

    def ema_targets(self) -> list[str]:
        return list(self.generators)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.config.optim
        groups = {"generator": (self.generators, o.lr_generator), "discriminator": (self.discriminators,
                                                                                    o.lr_discriminator)}
        return {
            name: torch.optim.Adam(itertools.chain(*(m.parameters() for m in modules.values())), lr=lr,
                                   betas=(o.beta1, o.beta2))
            for name, (modules, lr) in groups.items() if modules
        }

    def configure_schedulers(self, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return self.config.optim.schedulers(optimizers, self.config.trainer.max_steps)

    def _discriminator_step(self, step, judged: list[tuple[nn.Module, torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """One D update on (discriminator, real, fake) triples: the sum of their (halved) losses."""
        if not judged:
            return {}
        for discriminator, _, _ in judged:
            discriminator.requires_grad_(True)
        with step.autocast():
            losses = [self.adversarial.discriminator_loss(d(real), d(fake.detach())) for d, real, fake in judged]
            loss_d = torch.stack(losses).sum()
        step.optimize("discriminator", loss_d)
        for discriminator, _, _ in judged:
            discriminator.requires_grad_(False)
        return {"loss_d": float(loss_d.detach())}

    def directions(self) -> dict[str, tuple[DomainConfig, DomainConfig]]:
        """Exported generator name -> (source domain, target domain)."""
        data = self.config.data
        return {"generator": (data.source, data.target)}

    def inference(self) -> dict[str, Any]:
        """How to run an exported generator on whole images (the card's "inference" entry)."""
        return {"mode": "slices", "multiple": size_multiple(self.config.generator)}

    def model_card(self, name: str) -> dict[str, Any]:
        if name not in self.directions():
            return {}
        source, target = self.directions()[name]
        data = self.config.data
        return {
            "intensity": INTENSITY,
            "source": asdict(source),
            "target": asdict(target),
            "translation": f"{source.describe()} -> {target.describe()}",
            "spatial_dims": len(data.patch),
            "inference": self.inference(),
            "training": {"data": self.training_data},
        }


def random_gamma(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Each image of a batch in [0, 1] raised to its own power, log-uniform in [low, high].

    0 and 1 stay put and the order of intensities is kept: a tissue's level moves against the others' as it does
    from one sequence of a contrast to another (above 1 darkens the darker tissues). [1, 1] returns `images`.
    """
    if low == high == 1:
        return images
    shape = (images.shape[0],) + (1,) * (images.dim() - 1)
    log_gamma = math.log(low) + torch.rand(shape, device=images.device) * (math.log(high) - math.log(low))
    return images.clamp(min=0.0).pow(log_gamma.exp().to(images.dtype))


def _noisy(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """`image` plus Gaussian noise of standard deviation `sigma` (the image itself when `sigma` is 0)."""
    return image + sigma * torch.randn_like(image) if sigma > 0 else image


def _with_noise_up_to(images: torch.Tensor, max_sigma: float, min_sigma: float = 0.0) -> torch.Tensor:
    """Each image of a batch plus Gaussian noise, its standard deviation drawn uniformly from [min_sigma, max_sigma]."""
    if max_sigma == 0:
        return images
    draw = torch.rand((images.shape[0],) + (1,) * (images.dim() - 1), device=images.device)
    sigma = min_sigma + (max_sigma - min_sigma) * draw
    return images + sigma.to(images.dtype) * torch.randn_like(images)


class CycleGANTask(_TranslationTask):
    """The CycleGAN recipe (seed 003): G: A -> B and F: B -> A, one discriminator per domain."""

    def __init__(self, config: CycleGANConfig) -> None:
        self._setup(config)
        if len(config.data.patch) != 2 or config.data.patch[0] != config.data.patch[1]:
            raise UsageError(f"cyclegan trains on square 2D crops: data.patch must be [n, n], got {config.data.patch}")
        self.generator = build_generator(config.generator)
        self.generator_ba = build_generator(config.generator)
        self.generators = {"generator": self.generator, "generator_ba": self.generator_ba}
        self.discriminators: dict[str, nn.Module] = {}
        if config.loss.adversarial > 0:
            for domain in ("a", "b"):
                discriminator = build_discriminator(config.discriminator, in_channels=1, spatial_dims=2,
                                                    patch=config.data.patch)
                if discriminator is not None:
                    self.discriminators[f"discriminator_{domain}"] = discriminator
        self.pools = {"a": ImagePool(config.loss.pool_size), "b": ImagePool(config.loss.pool_size)}
        self.consistency = IntensityConsistencyLoss(measure=config.loss.consistency_measure)
        self.distributions = {domain: IntensityDistributionLoss(noise=config.loss.distribution_noise)
                              for domain in ("a", "b")}

    def directions(self) -> dict[str, tuple[DomainConfig, DomainConfig]]:
        data = self.config.data
        return {"generator": (data.source, data.target), "generator_ba": (data.target, data.source)}

    def training_step(self, batch: dict[str, torch.Tensor], step) -> dict[str, float]:
        loss = self.config.loss
        real_a, real_b = batch["a"], batch["b"]
        given_a, given_b = self.config.data.augmented(real_a), self.config.data.augmented(real_b)
        with step.autocast():
            fake_b, fake_a = self.generator(given_a), self.generator_ba(given_b)
        judged = []
        if self.discriminators:
            pooled_b, pooled_a = self.pools["b"].query(fake_b), self.pools["a"].query(fake_a)
            judged = [(self.discriminators["discriminator_b"], real_b, self._as_acquired(pooled_b)),
                      (self.discriminators["discriminator_a"], real_a, self._as_acquired(pooled_a))]
        logs = self._discriminator_step(step, judged)
        with step.autocast():
            cycle = self._translated_back(real_a, real_b, self._jitter(fake_b), self._jitter(fake_a))
            loss_g = loss.cycle * cycle
            logs["cycle"] = float(cycle.detach())
            if loss.cycle_scan_noise > 0:
                sigma = loss.cycle_scan_noise
                calibration = self._translated_back(real_a, real_b, _noisy(fake_b.detach(), sigma),
                                                    _noisy(fake_a.detach(), sigma))
                loss_g = loss_g + loss.cycle * calibration
                logs["cycle_scan"] = float(calibration.detach())
            if loss.identity > 0:
                kept_b = _with_noise_up_to(given_b, loss.identity_noise, loss.identity_noise_min)
                kept_a = _with_noise_up_to(given_a, loss.identity_noise, loss.identity_noise_min)
                identity = (self.generator(kept_b).float() - real_b).abs().mean() + \
                    (self.generator_ba(kept_a).float() - real_a).abs().mean()
                loss_g = loss_g + loss.cycle * loss.identity * identity
                logs["identity"] = float(identity.detach())
            if loss.consistency > 0:
                consistency = self.consistency(real_a, fake_b.float(), batch["a_brain"]) + \
                    self.consistency(real_b, fake_a.float(), batch["b_brain"])
                loss_g = loss_g + loss.consistency * consistency
                logs["consistency"] = float(consistency.detach())
            if loss.distribution > 0:
                distribution = \
                    self.distributions["b"](fake_b.float(), batch["a_brain"], real_b, batch["b_brain"]) + \
                    self.distributions["a"](fake_a.float(), batch["b_brain"], real_a, batch["a_brain"])
                loss_g = loss_g + loss.distribution * distribution
                logs["distribution"] = float(distribution.detach())
            if judged:
                adversarial = sum(self.adversarial.generator_loss(d(self._as_acquired(fake))) for d, fake in
                                  ((judged[0][0], fake_b), (judged[1][0], fake_a)))
                loss_g = loss_g + loss.adversarial * adversarial
                logs["adv_g"] = float(adversarial.detach())
        step.optimize("generator", loss_g)
        logs["loss_g"] = float(loss_g.detach())
        return logs

    def _translated_back(self, real_a: torch.Tensor, real_b: torch.Tensor, sent_b: torch.Tensor,
                         sent_a: torch.Tensor) -> torch.Tensor:
        """L1 of F(sent_b) against A plus L1 of G(sent_a) against B (sent_*: translations as passed back)."""
        return (self.generator_ba(sent_b).float() - real_a).abs().mean() + \
            (self.generator(sent_a).float() - real_b).abs().mean()

    def _jitter(self, fake: torch.Tensor) -> torch.Tensor:
        """A translation as the cycle loss passes it back: with `loss.cycle_noise` added (if any)."""
        return _noisy(fake, self.config.loss.cycle_noise)

    def _as_acquired(self, fake: torch.Tensor) -> torch.Tensor:
        """A translation as the discriminators judge it: with `loss.discriminator_noise` added (if any)."""
        return _noisy(fake, self.config.loss.discriminator_noise)

    def _passes(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        to_b, to_a = models["generator"], models["generator_ba"]
        fake_b, fake_a = to_b(batch["input"]), to_a(batch["target"])
        return {"a2b": fake_b, "b2a": fake_a, "a2b2a": to_a(fake_b), "b2a2b": to_b(fake_a)}

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, float]:
        """Translations and round trips against the true images: A -> B, B -> A, A -> B -> A, B -> A -> B, and
        seed 003's reconstructions A -> A (F given an image of A) and B -> B (G given one of B).

        The summary scores ("ssim_fg", ...) average A -> B and B -> A; on a user's unpaired folders
        (`data.domain_a`), which hold no true pairs, only the round trips are scored, and averaged.
        """
        truths = {"a2b": "target_true", "b2a": "input_true", "a2b2a": "input_true", "b2a2b": "target_true",
                  "a2a": "input_true", "b2b": "target_true"}
        user_folders = bool(self.config.data.domain_a)
        summary = ("a2b2a", "b2a2b") if user_folders else ("a2b", "b2a")
        passes = self._passes(batch, models)
        if not user_folders:
            passes.update(a2a=models["generator_ba"](batch["input"]), b2b=models["generator"](batch["target"]))
        metrics: dict[str, float] = {}
        for direction, output in passes.items():
            if direction in summary or not user_folders:
                metrics.update(translation_scores(output, batch[truths[direction]], batch, f"{direction}_"))
        for key in SCORES:
            metrics[key] = 0.5 * (metrics[f"{summary[0]}_{key}"] + metrics[f"{summary[1]}_{key}"])
        return metrics

    @torch.no_grad()
    def sample_images(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
        passes = self._passes({key: value[:4] for key, value in batch.items()}, models)
        return {"A": _numpy(batch["input"]), "G(A)": _numpy(passes["a2b"]), "true B": _numpy(batch["target_true"]),
                "B": _numpy(batch["target"]), "F(B)": _numpy(passes["b2a"]), "F(G(A))": _numpy(passes["a2b2a"])}

    def state_dict(self) -> dict[str, Any]:
        return {**{name: pool.state_dict() for name, pool in self.pools.items()},
                **{f"distribution_{name}": loss.state_dict() for name, loss in self.distributions.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, pool in self.pools.items():
            pool.load_state_dict(state[name])
        for name, loss in self.distributions.items():
            if f"distribution_{name}" in state:  # absent from checkpoints of before the term
                loss.load_state_dict(state[f"distribution_{name}"])


class Pix2PixTask(_TranslationTask):
    """The paired recipe (seed 004 / pix2pix): one generator, an optional (conditional) discriminator."""

    def __init__(self, config: Pix2PixConfig) -> None:
        from mrigan.losses import GradientDifferenceLoss, SSIMLoss

        self._setup(config)
        spatial_dims = len(config.data.patch)
        if spatial_dims == 3 and config.stitch.mode == "slices":
            raise UsageError("stitch.mode slices runs 2D models; a 3D generator runs on patches")
        self.generator = build_generator(config.generator, spatial_dims)
        self.generators = {"generator": self.generator}
        d = config.discriminator
        self.discriminator = None if config.loss.adversarial <= 0 else build_discriminator(
            d, in_channels=2 if d.conditional else 1, spatial_dims=spatial_dims, patch=config.data.patch)
        self.discriminators = {} if self.discriminator is None else {"discriminator": self.discriminator}
        self.gdl = GradientDifferenceLoss() if config.loss.gdl > 0 else None
        self.ssim = SSIMLoss(data_range=1.0, spatial_dims=spatial_dims) if config.loss.ssim > 0 else None
        self.perceptual = _perceptual_loss(config.loss)

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), **({"perceptual": self.perceptual} if self.perceptual is not None else {})}

    def _judged(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([source, image], dim=1) if self.config.discriminator.conditional else image

    def training_step(self, batch: dict[str, torch.Tensor], step) -> dict[str, float]:
        loss = self.config.loss
        source, target = self.config.data.augmented(batch["input"]), batch["target"]
        with step.autocast():
            fake = self.generator(source)
        judged = [] if self.discriminator is None else [
            (self.discriminator, self._judged(source, target), self._judged(source, fake))]
        logs = self._discriminator_step(step, judged)
        with step.autocast():
            error = fake.float() - target
            terms = {"l1": error.abs().mean(), "l2": error.pow(2).mean()}
            if self.gdl is not None:
                terms["gdl"] = self.gdl(fake.float(), target)
            if self.ssim is not None:
                terms["ssim"] = self.ssim(fake.float(), target)
            if self.perceptual is not None:
                terms["perceptual"] = self.perceptual(fake, target)
            if self.discriminator is not None:
                terms["adversarial"] = self.adversarial.generator_loss(self.discriminator(self._judged(source, fake)))
            loss_g = sum(getattr(loss, name) * value for name, value in terms.items())
        step.optimize("generator", loss_g)
        logs.update({name: float(value.detach()) for name, value in terms.items()}, loss_g=float(loss_g.detach()))
        return logs

    def grid(self) -> PatchGrid:
        return PatchGrid(tuple(self.config.data.patch), self.config.stitch.stride, self.config.stitch.overlap_mode)

    def inference(self) -> dict[str, Any]:
        stitch = self.config.stitch
        if stitch.mode == "slices":
            return super().inference()
        return {"mode": "patches", "patch": list(self.config.data.patch), "stride": stitch.stride,
                "overlap_mode": stitch.overlap_mode, "multiple": size_multiple(self.config.generator)}

    def translate(self, generator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Run the generator as an exported one runs: whole slices, or a blended grid of patches per slice."""
        if self.config.stitch.mode == "slices" or images.ndim == 5:
            return generator(images)
        from mrigan.data.translation import stitch

        stitched = [stitch(image[0, ..., None].cpu().numpy(), generator, self.grid(), device=images.device)
                    for image in images]
        return torch.from_numpy(np.stack(stitched))[:, None, ..., 0].to(images.device)

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, float]:
        """Output and input (the do-nothing baseline) against the true target."""
        output = self.translate(models["generator"], batch["input"])
        return {**translation_scores(output, batch["target_true"], batch),
                **translation_scores(batch["input"], batch["target_true"], batch, "input_")}

    @torch.no_grad()
    def sample_images(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
        output = self.translate(models["generator"], batch["input"][:4])
        return {"input": _numpy(batch["input"]), "output": _numpy(output), "true target": _numpy(batch["target_true"]),
                "output - input": _numpy(output - batch["input"][:4])}


def _perceptual_loss(loss: PairedLossConfig) -> nn.Module | None:
    """The feature loss on the in-domain MRI feature network, when its weight is positive."""
    if loss.perceptual <= 0:
        return None
    from mrigan.losses import PerceptualLoss
    from mrigan.nn import load_feature_net

    return PerceptualLoss(load_feature_net(resolve_repo_path(loss.feature_net)))


# ------------------------------------------------------------------------------------------------ data
def check_user_data(config: CycleGANConfig | Pix2PixConfig) -> None:
    """Refuse user-folder options that do not go together (or not with this recipe)."""
    data = config.data
    if (data.domain_a is None) != (data.domain_b is None):
        raise UsageError("data.domain_a and data.domain_b come together: CycleGAN needs both unpaired folders")
    if data.pairs and data.domain_a:
        raise UsageError("give data.pairs (registered pairs) or data.domain_a / data.domain_b (unpaired), not both")
    split = [float(f) for f in data.split]
    if data.user_folders() and (min(split) < 0 or split[0] <= 0 or not np.isclose(sum(split), 1.0)):
        raise UsageError(f"data.split {split}: three shares of the subjects (train > 0) summing to 1, e.g. "
                         "[0.7, 0.2, 0.1]")
    if not data.zooms or min(float(z) for z in data.zooms) <= 0:
        raise UsageError(f"data.zooms {list(data.zooms)}: one or more positive zooms, e.g. [1, 2]")
    if data.user_folders() and [float(z) for z in data.zooms] != [1.0]:
        raise UsageError("data.zooms resamples the simulated sample anatomies; it does not apply to user folders")
    if data.domain_a and config.task != "cyclegan":
        raise UsageError("data.domain_a / data.domain_b are unpaired folders for the cyclegan recipe; the paired "
                         "recipe trains on data.pairs (register them first: `mrigan register`)")


def user_pairs(config: CycleGANConfig | Pix2PixConfig):
    """The `FolderSplit` of `data.pairs` (checked, split by subject, train and validation loaded)."""
    from mrigan.data.translation import paired_folder

    data = config.data
    return paired_folder(data.pairs, patch=data.patch, fractions=data.split, seed=config.trainer.seed, n4=data.n4,
                         min_foreground=data.min_foreground)


def training_data(config: CycleGANConfig | Pix2PixConfig) -> dict[str, Any]:
    """What a model was trained on, for its card: the sample anatomies, or the user folders and their split."""
    data = config.data
    pairing = "paired" if config.task == "pix2pix" else f"unpaired ({data.unpaired})"
    if not data.user_folders():
        return {"samples": data.samples, "zooms": data.zooms, "max_slices": data.max_slices, "patch": data.patch,
                "pairing": pairing,
                "held_out": "colin27 (never used in training or validation)"}
    from mrigan.data.translation import user_test_subjects

    check_user_data(config)
    folders = {"pairs": data.pairs} if data.pairs else {"domain_a": data.domain_a, "domain_b": data.domain_b}
    return {**folders, "patch": data.patch, "pairing": pairing if data.pairs else "unpaired (user folders)",
            "split": list(data.split), "split_seed": config.trainer.seed, "n4": data.n4,
            "held_out": "the test subjects (never used in training or validation)",
            "test_subjects": user_test_subjects(**folders, fractions=data.split, seed=config.trainer.seed)}


def split_volumes(config: CycleGANConfig | Pix2PixConfig) -> tuple[list[TranslationVolume], list[TranslationVolume]]:
    """(train, validation) volumes: each anatomy's central slab (at least one 3D patch deep) is validation.

    With `data.pairs`, the user's pairs instead: whole subjects, split by subject (`user_pairs`).
    """
    from mrigan.data.translation import hold_out_slab, translation_volumes

    data = config.data
    check_user_data(config)
    if data.pairs:
        split = user_pairs(config)
        return split.train, split.validation
    if any(sample in HELD_OUT for sample in data.samples):
        raise UsageError("data.samples: colin27 is the held-out brain of every reported number; train on others")
    volumes = translation_volumes(data.samples, data.source, data.target, seed=config.trainer.seed,
                                  max_slices=data.max_slices, zooms=data.zooms)
    depth = data.patch[2] if len(data.patch) == 3 else 1
    parts = [hold_out_slab(v, data.validation_fraction, min_depth=depth, guard=1, min_foreground=data.min_foreground)
             for v in volumes]
    return [train for train, _ in parts], [validation for _, validation in parts]


def validation_dataset(config: CycleGANConfig | Pix2PixConfig, volumes: list[TranslationVolume]):
    """Whole validation slices (3D: patches), `validation_slices` of them spread over the slabs."""
    from mrigan.data.translation import PairedTranslationDataset

    data = config.data
    three_d = len(data.patch) == 3
    per_volume = -(-data.validation_slices // len(volumes)) if three_d else None
    dataset = PairedTranslationDataset(
        volumes, patch=data.patch if three_d else None, samples_per_volume=per_volume,
        multiple=size_multiple(config.generator), augment=False, clean_targets=False, seed=config.trainer.seed + 1,
        min_foreground=data.min_foreground,
    )
    if len(dataset) > data.validation_slices:
        keep = np.linspace(0, len(dataset) - 1, data.validation_slices).round().astype(int)
        dataset.index = [dataset.index[i] for i in keep]
    return dataset


def build_paired_datasets(config: Pix2PixConfig):
    """Random patches of the training volumes (input as acquired, target noise-free by default); validation."""
    from mrigan.data.translation import PairedTranslationDataset

    train_volumes, validation_volumes = split_volumes(config)
    data = config.data
    train = PairedTranslationDataset(
        train_volumes, patch=data.patch, samples_per_volume=data.patches_per_volume, augment=True,
        clean_targets=data.clean_targets, seed=config.trainer.seed, min_foreground=data.min_foreground,
        anywhere=data.anywhere,
    )
    return train, validation_dataset(config, validation_volumes)


def build_unpaired_datasets(config: CycleGANConfig):
    """Unpaired A / B crops from disjoint slabs (or subjects); validation on true pairs.

    With `data.domain_a` / `data.domain_b`: each folder's training subjects make its domain, and validation
    puts the two folders' validation subjects side by side (only their round trips are scored).
    """
    from mrigan.data.translation import (
        UnpairedTranslationDataset,
        alternate_slabs,
        domain_folders,
        unpaired_validation,
    )

    data = config.data
    check_user_data(config)
    if data.domain_a:
        split_a, split_b = domain_folders(data.domain_a, data.domain_b, patch=data.patch, fractions=data.split,
                                          seed=config.trainer.seed, n4=data.n4, min_foreground=data.min_foreground)
        train = UnpairedTranslationDataset(split_a.train, split_b.train, crop=data.patch[0], augment=True,
                                           seed=config.trainer.seed, min_foreground=data.min_foreground,
                                           anywhere=data.anywhere)
        return train, validation_dataset(config, unpaired_validation(split_a.validation, split_b.validation))
    train_volumes, validation_volumes = split_volumes(config)
    if data.unpaired == "subjects":
        if len(train_volumes) < 2:
            raise UsageError("data.unpaired subjects needs two anatomies or more in data.samples")
        volumes_a, volumes_b = train_volumes[0::2], train_volumes[1::2]
    else:
        halves = [alternate_slabs(volume, data.slab) for volume in train_volumes]
        volumes_a, volumes_b = [a for a, _ in halves], [b for _, b in halves]
    train = UnpairedTranslationDataset(volumes_a, volumes_b, crop=data.patch[0], augment=True,
                                       seed=config.trainer.seed, min_foreground=data.min_foreground,
                                       anywhere=data.anywhere)
    return train, validation_dataset(config, validation_volumes)
