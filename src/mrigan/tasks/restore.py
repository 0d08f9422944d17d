"""UMR-GAN (seed 000): a mask-conditioned cGAN that denoises and inpaints brain MRI slices.

Generator: U-Net with a residual bottleneck and channel-spatial attention at the two deepest decoder stages,
fed [x, M, sigma-map, x(t-1), x(t+1), class one-hot]. Discriminator: two-scale PatchGAN with spectral norm on
[x, y] pairs. Loss:

    L_G = l1 * MaskedL1_alpha + adversarial * cGAN + perceptual * P + lambda_ssim(step) * (1 - SSIM)

with lambda_ssim annealed from 0 to its target. D step first, then G step, as in pix2pix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mrigan.data.restoration import Conditioning, DegradationConfig
from mrigan.engine import EarlyStoppingConfig, TrainerConfig
from mrigan.errors import UsageError

INTENSITY = {"normalise": "robust_minmax", "low": 0.1, "high": 99.9}


@dataclass
class GeneratorConfig:
    """UNetGenerator width and depth (see mrigan.nn.unet)."""

    depth: int = 6
    base_channels: int = 16
    max_channels: int = 112
    residual_blocks: int = 2
    attention: str = "channel_spatial"
    dropout: float = 0.0
    residual_output: bool = True


@dataclass
class DiscriminatorConfig:
    """Multi-scale PatchGAN on [degraded x, y] pairs."""

    num_scales: int = 2
    base_channels: int = 32
    n_layers: int = 3
    norm: str = "none"
    spectral_norm: bool = True


@dataclass
class LossConfig:
    """Loss weights of L_G (seed 000: 100, 1, 0.1, lambda_ssim annealed to a target in [0, 1]).

    `adversarial_start_step`: steps trained on the reconstruction terms alone (L1 + SSIM) before the
    discriminator, the cGAN term and the perceptual term join, as ESRGAN starts from a PSNR-trained generator.
    """

    l1: float = 100.0
    alpha: float = 0.5
    adversarial: float = 1.0
    adversarial_mode: str = "vanilla"
    perceptual: float = 0.1
    feature_net: str = "models/mri_features.safetensors"
    ssim: float = 0.2
    ssim_warmup_steps: int = 500
    r1_gamma: float = 0.0
    adversarial_start_step: int = 0


@dataclass
class OptimConfig:
    """Adam for G and D; a larger lr_discriminator is TTUR.

    `decay_steps` (0: constant rates) is how many of the run's last steps lower every learning rate linearly to
    zero, as pix2pix and CycleGAN do over their last epochs (`n_epochs_decay`), here counted in steps.
    """

    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_steps: int = 0

    def __post_init__(self) -> None:
        if self.decay_steps < 0:
            raise ValueError(f"optim.decay_steps must be >= 0 (got {self.decay_steps})")

    def schedulers(self, optimizers: dict[str, torch.optim.Optimizer], max_steps: int) -> dict[str, Any]:
        """One LambdaLR per optimizer: rate x 1 until `max_steps - decay_steps`, then linearly down to 0."""
        if not self.decay_steps:
            return {}
        if self.decay_steps > max_steps:
            raise UsageError(f"optim.decay_steps ({self.decay_steps}) is more than trainer.max_steps ({max_steps})")
        decay_start = max_steps - self.decay_steps

        def factor(step: int) -> float:
            return 1.0 if step <= decay_start else max(0.0, (max_steps - step) / self.decay_steps)

        return {name: torch.optim.lr_scheduler.LambdaLR(optimizer, factor) for name, optimizer in optimizers.items()}


@dataclass
class DataConfig:
    """Training data: sample anatomies and / or folders; the validation slab is held out of training.

    Attributes:
        samples: sample anatomies to train on (never colin27: it is the bench's held-out brain).
        folders: user folders (NIfTI, DICOM, images with class sub-folders).
        validation_fraction: fraction of each volume's slices (a central slab) kept for validation.
        crop: training crop side; validation uses whole slices.
        batch_size: per process.
        num_workers: data loader workers.
        min_foreground: slices with less foreground are skipped.
        intensity_jitter: range of the random intensity scale of training crops. Training volumes are
            skull-stripped, so their brain fills [0, 1]; in a whole-head scan normalised the same way the brain
            sits lower (scalp fat is brightest): a wider range than the seed's 0.9-1.1 covers both.
    """

    samples: list[str] = field(default_factory=lambda: ["mni152", "inia19"])
    folders: list[str] = field(default_factory=list)
    validation_fraction: float = 0.1
    validation_slices: int = 16
    crop: int = 128
    batch_size: int = 8
    num_workers: int = 0
    min_foreground: float = 0.05
    intensity_jitter: tuple[float, float] = (0.9, 1.1)


@dataclass
class RestoreConfig:
    """Everything a restoration run needs; `mrigan train configs/umr_gan.yaml --set a.b=c` builds it."""

    name: str = "umr-gan"
    task: str = "restore"
    conditioning: Conditioning = field(default_factory=Conditioning)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_steps=2000, log_every=25, val_every=250, checkpoint_every=250, ema_decay=0.998, seed=0,
        early_stopping=EarlyStoppingConfig(metric="ssim", mode="max", patience=8),
    ))


def build_generator(config: RestoreConfig) -> nn.Module:
    from mrigan.nn import UNetGenerator, init_weights

    g = config.generator
    generator = UNetGenerator(
        in_channels=config.conditioning.channels, out_channels=1, depth=g.depth, base_channels=g.base_channels,
        max_channels=g.max_channels, residual_blocks=g.residual_blocks, attention=g.attention,
        dropout=g.dropout, residual_output=g.residual_output, out_activation="sigmoid01",
    )
    init_weights(generator, kind="kaiming")
    if g.residual_output:
        # start as the identity: a random residual pushes most pixels past the clamp to [0, 1], where they get
        # no gradient and training stalls (seen in the first CPU run)
        nn.init.zeros_(generator.head.weight)
        if generator.head.bias is not None:
            nn.init.zeros_(generator.head.bias)
    return generator


def build_discriminator(config: RestoreConfig) -> nn.Module:
    from mrigan.nn import MultiScaleDiscriminator, init_weights

    d = config.discriminator
    discriminator = MultiScaleDiscriminator(
        in_channels=2, num_scales=d.num_scales, base_channels=d.base_channels, n_layers=d.n_layers,
        norm=d.norm, spectral_norm=d.spectral_norm,
    )
    init_weights(discriminator, kind="normal")
    return discriminator


def resolve_repo_path(path: str) -> Path:
    """A relative path is looked up from the working folder, then from the repository root."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    import mrigan

    return Path(mrigan.__file__).resolve().parents[2] / path


class RestoreTask:
    """The UMR-GAN recipe: `modules`, `configure_optimizers`, `training_step` (D then G), `validation_step`."""

    name = "restore"

    def __init__(self, config: RestoreConfig) -> None:
        from mrigan.losses import AdversarialLoss, AnnealedWeight, MaskedL1, SSIMLoss

        self.config = config
        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config) if config.loss.adversarial > 0 else None
        self.masked_l1 = MaskedL1(alpha=config.loss.alpha)
        self.adversarial = AdversarialLoss(mode=config.loss.adversarial_mode)
        self.ssim_loss = SSIMLoss(data_range=1.0)
        self.ssim_weight = AnnealedWeight(config.loss.ssim, config.loss.ssim_warmup_steps)
        self.perceptual = None
        if config.loss.perceptual > 0:
            from mrigan.losses import PerceptualLoss
            from mrigan.nn import load_feature_net

            self.perceptual = PerceptualLoss(load_feature_net(resolve_repo_path(config.loss.feature_net)))

    def modules(self) -> dict[str, nn.Module]:
        modules = {"generator": self.generator}
        if self.discriminator is not None:
            modules["discriminator"] = self.discriminator
        if self.perceptual is not None:
            modules["perceptual"] = self.perceptual
        return modules

    def ema_targets(self) -> list[str]:
        return ["generator"]

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.config.optim
        betas = (o.beta1, o.beta2)
        optimizers = {"generator": torch.optim.Adam(self.generator.parameters(), lr=o.lr_generator, betas=betas)}
        if self.discriminator is not None:
            optimizers["discriminator"] = torch.optim.Adam(
                self.discriminator.parameters(), lr=o.lr_discriminator, betas=betas
            )
        return optimizers

    def configure_schedulers(self, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return self.config.optim.schedulers(optimizers, self.config.trainer.max_steps)

    @staticmethod
    def _pair(batch: dict[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        return torch.cat([batch["input"][:, :1], image], dim=1)

    def training_step(self, batch: dict[str, torch.Tensor], step) -> dict[str, float]:
        loss_config = self.config.loss
        target, mask = batch["target"], batch["mask"]
        logs: dict[str, float] = {}
        adversarial_on = step.global_step >= loss_config.adversarial_start_step
        with step.autocast():
            fake = self.generator(batch["input"])
        if self.discriminator is not None and adversarial_on:
            self.discriminator.requires_grad_(True)
            real_pair = self._pair(batch, target)
            if loss_config.r1_gamma > 0:
                real_pair.requires_grad_(True)
            with step.autocast():
                real_logits = self.discriminator(real_pair)
                fake_logits = self.discriminator(self._pair(batch, fake.detach()))
                loss_d = self.adversarial.discriminator_loss(real_logits, fake_logits)
            if loss_config.r1_gamma > 0:
                from mrigan.losses import r1_penalty

                penalty = r1_penalty(real_logits, real_pair)
                loss_d = loss_d + 0.5 * loss_config.r1_gamma * penalty
                logs["r1"] = float(penalty.detach())
            step.optimize("discriminator", loss_d)
            logs["loss_d"] = float(loss_d.detach())
            self.discriminator.requires_grad_(False)
        with step.autocast():
            l1 = self.masked_l1(fake, target, mask)
            loss_g = loss_config.l1 * l1
            logs["l1"] = float(l1.detach())
            if self.discriminator is not None and adversarial_on:
                adversarial = self.adversarial.generator_loss(self.discriminator(self._pair(batch, fake)))
                loss_g = loss_g + loss_config.adversarial * adversarial
                logs["adv_g"] = float(adversarial.detach())
            if self.perceptual is not None and adversarial_on:
                perceptual = self.perceptual(fake, target)
                loss_g = loss_g + loss_config.perceptual * perceptual
                logs["perceptual"] = float(perceptual.detach())
            weight = float(self.ssim_weight(step.global_step))
            if weight > 0:
                ssim_term = self.ssim_loss(fake.float(), target.float())
                loss_g = loss_g + weight * ssim_term
                logs["1-ssim"] = float(ssim_term.detach())
        step.optimize("generator", loss_g)
        logs["loss_g"] = float(loss_g.detach())
        return logs

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, float]:
        from pytorch_msssim import ssim

        output = models["generator"](batch["input"]).float()
        target, brain = batch["target"].float(), batch["brain"] > 0.5
        squared = (output - target) ** 2
        mse_fg = squared[brain].mean().clamp_min(1e-12)
        hole = batch["mask"] < 0.5
        metrics = {
            "psnr": float(-10 * torch.log10(squared.mean().clamp_min(1e-12))),
            "psnr_fg": float(-10 * torch.log10(mse_fg)),
            "ssim": float(ssim(output, target, data_range=1.0, size_average=True)),
            "l1": float((output - target).abs().mean()),
        }
        if hole.any():
            metrics["psnr_hole"] = float(-10 * torch.log10(squared[hole].mean().clamp_min(1e-12)))
        return metrics

    @torch.no_grad()
    def sample_images(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
        output = models["generator"](batch["input"][:4])
        return {
            "input": batch["input"][:4, 0].cpu().numpy(),
            "output": output[:, 0].float().cpu().numpy(),
            "target": batch["target"][:4, 0].cpu().numpy(),
            "|output - target|": (output - batch["target"][:4]).abs()[:, 0].float().cpu().numpy(),
        }

    def model_card(self, name: str) -> dict[str, Any]:
        if name != "generator":
            return {}
        return {
            "intensity": INTENSITY,
            "conditioning": asdict(self.config.conditioning),
            "training": {"data": {"samples": self.config.data.samples, "folders": self.config.data.folders,
                                  "held_out": "colin27 (never used in training or validation)"}},
        }


def training_subjects(config: RestoreConfig):
    """(train, validation) subjects of the restoration recipe (see `split_training_volumes`)."""
    return split_training_volumes(config.data, context=config.conditioning.context, seed=config.trainer.seed)


def split_training_volumes(data, *, context: int, seed: int):
    """(train, validation) subjects: each volume's central slab of `validation_fraction` is kept for validation.

    Folders given by the user are split by subject (80/10/10, stratified by class) instead; their test part
    is left untouched for `mrigan evaluate`.

    Args:
        data: a recipe's data config (samples, folders, validation_fraction, min_foreground).
        context: 2.5D neighbours on each side; training slices keep this far from the validation slab.
        seed: seed of the folder split.
    """
    from mrigan.data.subjects import central_slab, split_subjects, subjects_from_folder, subjects_from_samples

    if "colin27" in data.samples or "colin27-hires" in data.samples:
        raise UsageError("data.samples: colin27 is the held-out brain of every reported number; train on others")
    train, validation = [], []
    for subject in subjects_from_samples(data.samples):
        train_slices, validation_slices = central_slab(
            subject.brain, data.validation_fraction, min_foreground=data.min_foreground, guard=context
        )
        train.append(_with_slices(subject, train_slices))
        validation.append(_with_slices(subject, validation_slices))
    for folder in data.folders:
        parts = split_subjects(subjects_from_folder(folder), seed=seed)
        train.extend(parts[0])
        validation.extend(parts[1])
    return train, validation


def _with_slices(subject, allowed: np.ndarray):
    from dataclasses import replace

    return replace(subject, extra={**subject.extra, "allowed_slices": allowed})


def build_datasets(config: RestoreConfig):
    """The training dataset (random crops, augmentation) and a fixed validation set (whole slices)."""
    from mrigan.data.restoration import RestorationDataset

    train_subjects, validation_subjects = training_subjects(config)
    train = RestorationDataset(
        train_subjects, conditioning=config.conditioning, degradation=config.degradation, crop=config.data.crop,
        augment=True, seed=config.trainer.seed, min_foreground=config.data.min_foreground,
        intensity_jitter=config.data.intensity_jitter,
    )
    validation = RestorationDataset(
        validation_subjects, conditioning=config.conditioning, degradation=config.degradation, crop=None,
        multiple=2**config.generator.depth, augment=False, seed=config.trainer.seed + 1,
        min_foreground=config.data.min_foreground,
    )
    if len(validation) > config.data.validation_slices:
        keep = np.linspace(0, len(validation) - 1, config.data.validation_slices).round().astype(int)
        validation.index = [validation.index[i] for i in keep]
    return train, validation
