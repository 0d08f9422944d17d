"""Super-resolution (seeds 001, 002, 004): the seed-001 CNN with four loss schedules, SRGAN, ESRGAN, FCN, DCSRN.

Generator kinds (`KINDS`): "cnn" (seed-001 convolutions made fully convolutional, `FullyConvSR`), "cnn_fixed"
(the seed-001 CNN itself with its dense layer, `SRCNN001`, for one crop size), "srgan" (seed-001 generator),
"esrgan" (`RRDBNet`, seed 002), "fcn" / "fcn2" / "dcsrn" (seed-004 baselines, which take the bicubic image on
the target grid). Each is wrapped in `SuperResolutionNet`, which records the scale and the input the network
expects and adds an optional global skip (the interpolated input), so the network learns only the missing
detail and starts as bicubic interpolation.

Pixel-loss schedules (`LossConfig.schedule`): "mse", "l1", "ssim" (1 - SSIM), "ssim_mse" (0.6 (1 - SSIM) + 0.4 MSE by
default) and "ssim_then_mse" (SSIM until its validation value plateaus or a set step, then MSE; seed 001).
GANs add `adversarial * L_adv + perceptual * L_feat + gdl * L_gdl` (relativistic average D for ESRGAN,
BCE for SRGAN); the discriminator step comes first, as in pix2pix. Both steps log the seed-001 scores:
score_g = mean D(G(x)) and score_d = 0.5 mean D(y) + 0.5 mean (1 - D(G(x))), D as a probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mrigan.data.sr_pairs import AugmentConfig, DegradationConfig
from mrigan.engine import EarlyStoppingConfig, TrainerConfig
from mrigan.errors import UsageError
from mrigan.tasks.restore import INTENSITY, OptimConfig, RestoreTask, resolve_repo_path

SR_NETWORKS = ("SRCNN001", "FullyConvSR", "SRGANGenerator", "RRDBNet", "FCN", "DCSRN")
"""Classes of `mrigan.nn.sr` a `SuperResolutionNet` may wrap."""

UPSCALING = ("SRCNN001", "FullyConvSR", "SRGANGenerator", "RRDBNet")
"""Networks that take the low-resolution image and have a `scale` argument; the others keep the size."""

SEED001_DISCRIMINATOR = {"channels": [8, 16, 32, 64], "downsample": False, "kernel_size": 5, "norm": "none",
                         "dropout": 0.4, "dense_channels": 0}
ESRGAN_DISCRIMINATOR = {"channels": [16, 32, 64, 128], "downsample": True, "kernel_size": 3, "norm": "batch",
                        "dense_channels": 64}


@dataclass(frozen=True)
class Kind:
    """A generator kind: the network class, its default kwargs and the discriminator that goes with it."""

    network: str
    defaults: dict[str, Any]
    discriminator: dict[str, Any]


KINDS: dict[str, Kind] = {
    "cnn": Kind("FullyConvSR", {}, ESRGAN_DISCRIMINATOR),
    "cnn_fixed": Kind("SRCNN001", {"out_activation": "none"}, ESRGAN_DISCRIMINATOR),
    "srgan": Kind("SRGANGenerator", {}, SEED001_DISCRIMINATOR),
    "esrgan": Kind("RRDBNet", {"num_features": 24, "growth_channels": 12, "num_blocks": 2}, ESRGAN_DISCRIMINATOR),
    "fcn": Kind("FCN", {}, ESRGAN_DISCRIMINATOR),
    "fcn2": Kind("FCN", {"num_layers": 5, "downsamplings": 2}, ESRGAN_DISCRIMINATOR),
    "dcsrn": Kind("DCSRN", {}, ESRGAN_DISCRIMINATOR),
}


class BSplineUpsample(nn.Module):
    """The bench's "bicubic" (cubic B-spline interpolation, mirrored edges, pixel areas aligned) as a fixed layer.

    The B-spline prefilter (truncated after 9 taps each side, error < 1e-5) and the four B-spline weights of
    each output phase are folded into one separable kernel per phase: a convolution to scale**2 channels and a
    pixel shuffle. Matches `mrigan.baselines.SplineUpsample(order=3)` to about 1e-5 on images of 10 pixels or
    more. No parameters.

    Shape:
        (N, C, H, W) -> (N, C, scale H, scale W)
    """

    def __init__(self, scale: int, half_width: int = 9) -> None:
        super().__init__()
        z = math.sqrt(3.0) - 2.0
        n = np.arange(-half_width, half_width + 1)
        prefilter = (-6.0 * z / (1.0 - z * z)) * z ** np.abs(n)

        def beta3(x: np.ndarray) -> np.ndarray:
            x = np.abs(x)
            return np.where(x < 1, 2 / 3 - x**2 + x**3 / 2, np.where(x < 2, (2 - x) ** 3 / 6, 0.0))

        phases = np.stack([np.convolve(beta3((p + 0.5) / scale - 0.5 - np.arange(-2, 3)), prefilter)
                           for p in range(scale)])
        kernel = np.einsum("pa,qb->pqab", phases, phases).reshape(scale * scale, 1, *phases.shape[1:] * 2)
        self.scale, self.pad = scale, phases.shape[1] // 2
        self.register_buffer("kernel", torch.tensor(kernel, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        padded = x.reshape(n * c, 1, h, w)
        remaining = self.pad
        while remaining > 0:  # symmetric (half-sample) mirroring, repeated for images smaller than the kernel
            step = min(remaining, padded.shape[-1], padded.shape[-2])
            padded = torch.cat([padded[..., :step].flip(-1), padded, padded[..., -step:].flip(-1)], -1)
            padded = torch.cat([padded[..., :step, :].flip(-2), padded, padded[..., -step:, :].flip(-2)], -2)
            remaining -= step
        output = F.pixel_shuffle(F.conv2d(padded, self.kernel.to(x.dtype)), self.scale)
        return output.reshape(n, c, h * self.scale, w * self.scale)


class SuperResolutionNet(nn.Module):
    """A super-resolution network with what it takes to run it: scale, expected input, a global skip.

    Args:
        network: class name in `mrigan.nn.sr` (one of `SR_NETWORKS`).
        network_kwargs: its constructor kwargs (`scale` is filled in for upscaling networks).
        scale: upscaling factor per in-plane axis.
        input: "low_res" (the network upsamples) or "upsampled" (the caller gives the low-resolution image
            interpolated onto the target grid with a cubic B-spline, as `mrigan.data.sr_pairs.bicubic`).
        residual: add the interpolated input to the network's output (for "low_res" the bench's bicubic,
            `BSplineUpsample`, so a zero network gives exactly the bicubic row).

    Shape:
        "low_res": (N, 1, H, W) -> (N, 1, scale H, scale W); "upsampled": (N, 1, H, W) -> (N, 1, H, W).
    """

    def __init__(self, *, network: str = "FullyConvSR", network_kwargs: dict[str, Any] | None = None,
                 scale: int = 2, input: str = "low_res", residual: bool = True) -> None:
        from mrigan.nn import sr
        from mrigan.nn.layers import json_kwargs

        super().__init__()
        if network not in SR_NETWORKS:
            raise ValueError(f"network must be one of {SR_NETWORKS}, got {network!r}")
        if input not in ("low_res", "upsampled"):
            raise ValueError(f"input must be 'low_res' or 'upsampled', got {input!r}")
        if (input == "low_res") != (network in UPSCALING):
            raise ValueError(f"{network} takes the {'low_res' if network in UPSCALING else 'upsampled'} input")
        network_kwargs = dict(network_kwargs or {})
        if network in UPSCALING:
            network_kwargs["scale"] = scale
        self.config = json_kwargs(locals())
        self.scale, self.input, self.residual = scale, input, residual
        self.body = getattr(sr, network)(**network_kwargs)
        self.skip = BSplineUpsample(scale) if residual and input == "low_res" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = self.body(x)
        return output + self.skip(x) if self.residual else output


# ------------------------------------------------------------------------------------------------ config
@dataclass
class GeneratorConfig:
    """The generator: a kind from `KINDS`, the global skip, and kwargs over the kind's defaults."""

    kind: Literal["cnn", "cnn_fixed", "srgan", "esrgan", "fcn", "fcn2", "dcsrn"] = "cnn"
    residual: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DiscriminatorConfig:
    """`SRGANDiscriminator` kwargs over the kind's default (seed-001 layout for srgan, ESRGAN-like otherwise)."""

    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    """Loss weights and the pixel-loss schedule.

    Attributes:
        schedule: "mse", "l1", "ssim", "ssim_mse" or "ssim_then_mse".
        ssim_weight, mse_weight: weights of "ssim_mse" (seed 001: 0.6 / 0.4).
        switch_step: "ssim_then_mse" switches to MSE at this step at the latest (None: only on a plateau).
        switch_patience: ...or after this many validations without the validation 1 - SSIM improving by more
            than `switch_min_delta` (keep it below the trainer's early-stopping patience).
        pixel: weight of the scheduled pixel loss.
        adversarial: weight of the generator's adversarial loss; 0 trains without a discriminator.
        adversarial_mode: "vanilla" (BCE, SRGAN), "relativistic" (ESRGAN), "lsgan" or "hinge".
        perceptual: weight of the feature loss on the in-domain MRI feature network.
        gdl: weight of the gradient difference loss (seed 004).
    """

    schedule: Literal["mse", "l1", "ssim", "ssim_mse", "ssim_then_mse"] = "mse"
    ssim_weight: float = 0.6
    mse_weight: float = 0.4
    switch_step: int | None = None
    switch_patience: int = 2
    switch_min_delta: float = 1e-4
    pixel: float = 1.0
    adversarial: float = 0.0
    adversarial_mode: Literal["vanilla", "lsgan", "hinge", "relativistic"] = "vanilla"
    perceptual: float = 0.0
    feature_net: str = "models/mri_features.safetensors"
    gdl: float = 0.0


@dataclass
class DataConfig:
    """Training data: 2D axial windows of the sample anatomies / folders, or the seed-001 tumour crops.

    Attributes:
        samples: sample anatomies (never colin27: the bench's held-out brain).
        folders: user folders of volumes or images, split by subject.
        figshare: a folder of figshare brain-tumour `.mat` slices: seed-001 crops (the tumour's bounding square
            resized to `crop`), class-balanced 80 / 10 / 10 split by patient (the test part is left out).
        crop_margin: pixels added around the tumour's bounding box.
        validation_fraction: central slab of each volume kept for validation.
        validation_slices: validation windows (spread over the validation slices).
        crop: target side of training windows (50 for the seed-001 protocol).
        validation_crop: target side of validation windows ("cnn_fixed" uses `crop`).
        batch_size, num_workers, min_foreground: as in restoration.
        degradation: how low-resolution inputs are made (`mrigan.data.sr_pairs.DegradationConfig`).
        augment: seed-002 augmentation of training windows.
    """

    samples: list[str] = field(default_factory=lambda: ["mni152", "inia19"])
    folders: list[str] = field(default_factory=list)
    figshare: str | None = None
    crop_margin: int = 10
    validation_fraction: float = 0.1
    validation_slices: int = 16
    crop: int = 64
    validation_crop: int = 128
    batch_size: int = 8
    num_workers: int = 0
    min_foreground: float = 0.05
    degradation: DegradationConfig = field(default_factory=lambda: DegradationConfig(kinds=("decimate", "kspace")))
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class SuperResolveConfig:
    """Everything a super-resolution run needs; `mrigan train configs/sr/cnn_mse.yaml --set scale=4`."""

    name: str = "sr-cnn"
    task: str = "super_resolve"
    scale: int = 2
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr_generator=5e-4, lr_discriminator=1e-4, beta1=0.9))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_steps=300, log_every=10, val_every=50, checkpoint_every=100, keep_checkpoints=2, ema_decay=0.99,
        early_stopping=EarlyStoppingConfig(metric="psnr_fg", mode="max", patience=6),
    ))

    def __post_init__(self) -> None:
        if self.scale < 2 or self.scale & (self.scale - 1):
            raise ValueError(f"scale must be 2, 4 or another power of two, got {self.scale}")


def input_of(config: SuperResolveConfig) -> str:
    """The input the generator takes: "low_res" or "upsampled"."""
    return "low_res" if KINDS[config.generator.kind].network in UPSCALING else "upsampled"


def validation_crop(config: SuperResolveConfig) -> int:
    """The validation window side (the training crop for fixed-size networks)."""
    return config.data.crop if config.generator.kind == "cnn_fixed" else config.data.validation_crop


# ------------------------------------------------------------------------------------------------ networks
def build_generator(config: SuperResolveConfig) -> SuperResolutionNet:
    """The wrapped generator; with the global skip its last convolution starts at zero (output = bicubic)."""
    kind = KINDS[config.generator.kind]
    kwargs = {**kind.defaults, **config.generator.kwargs}
    if config.generator.kind == "cnn_fixed":
        kwargs.setdefault("input_size", config.data.crop // config.scale)
    if config.generator.residual:
        kwargs.setdefault("out_activation", "none")
    generator = SuperResolutionNet(network=kind.network, network_kwargs=kwargs, scale=config.scale,
                                   input=input_of(config), residual=config.generator.residual)
    if config.generator.residual:
        last = [module for module in generator.body.modules() if isinstance(module, (nn.Conv2d, nn.Linear))][-1]
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
    return generator


def build_discriminator(config: SuperResolveConfig) -> nn.Module:
    """`SRGANDiscriminator` on high-resolution images, one logit per image."""
    from mrigan.nn import SRGANDiscriminator

    kwargs = {**KINDS[config.generator.kind].discriminator, **config.discriminator.kwargs}
    return SRGANDiscriminator(in_channels=1, **kwargs)


# ------------------------------------------------------------------------------------------------ schedule
class LossSchedule:
    """Which pixel loss is active; for "ssim_then_mse", when to switch from SSIM to MSE.

    The validation 1 - SSIM is collected from `validation_step` calls and judged at the next training step
    (the engine validates between steps). The state is checkpointed through the task's `state_dict`.
    """

    def __init__(self, config: LossConfig) -> None:
        self.config = config
        self.phase = 0
        self.best: float | None = None
        self.bad = 0
        self.switched_at: int | None = None
        self.pending = [0.0, 0.0]  # sum of (1 - SSIM) * batch size, and of batch sizes

    @property
    def active(self) -> str:
        """The pixel loss in use: "mse", "l1", "ssim" or "ssim_mse"."""
        if self.config.schedule == "ssim_then_mse":
            return "ssim" if self.phase == 0 else "mse"
        return self.config.schedule

    def observe(self, one_minus_ssim: float, weight: int) -> None:
        """Record one validation batch."""
        self.pending[0] += one_minus_ssim * weight
        self.pending[1] += weight

    def update(self, step: int) -> None:
        """Close a finished validation and switch phase on a plateau or at `switch_step`."""
        if self.config.schedule != "ssim_then_mse" or self.phase == 1:
            self.pending = [0.0, 0.0]
            return
        if self.pending[1] > 0:
            value = self.pending[0] / self.pending[1]
            self.pending = [0.0, 0.0]
            if self.best is None or value < self.best - self.config.switch_min_delta:
                self.best, self.bad = value, 0
            else:
                self.bad += 1
        at_step = self.config.switch_step is not None and step >= self.config.switch_step
        if at_step or self.bad >= self.config.switch_patience:
            self.phase, self.switched_at = 1, step

    def state_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "best": self.best, "bad": self.bad, "switched_at": self.switched_at,
                "pending": list(self.pending)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.best, self.bad = int(state["phase"]), state["best"], int(state["bad"])
        self.switched_at, self.pending = state["switched_at"], [float(v) for v in state["pending"]]


def gan_scores(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
    """Seed-001 scores: generator mean D(G(x)); discriminator 0.5 mean D(y) + 0.5 mean (1 - D(G(x)))."""
    real, fake = torch.sigmoid(real_logits.float()), torch.sigmoid(fake_logits.float())
    return {"score_g": float(fake.mean()), "score_d": float(0.5 * real.mean() + 0.5 * (1 - fake).mean())}


def _psnr(squared: torch.Tensor) -> float:
    return float(-10 * torch.log10(squared.mean().clamp_min(1e-12)))


# ------------------------------------------------------------------------------------------------ task
class SuperResolveTask:
    """The super-resolution recipe: `modules`, `configure_optimizers`, `training_step` (D then G), validation."""

    name = "super_resolve"

    def __init__(self, config: SuperResolveConfig) -> None:
        from mrigan.losses import AdversarialLoss, GradientDifferenceLoss, SSIMLoss

        if config.loss.schedule == "ssim_then_mse" and config.trainer.early_stopping.metric and (
            config.loss.switch_patience >= config.trainer.early_stopping.patience
        ):
            raise UsageError("loss.switch_patience must be below trainer.early_stopping.patience, or training "
                             "stops before it switches from SSIM to MSE")
        self.config = config
        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config) if config.loss.adversarial > 0 else None
        self.adversarial = AdversarialLoss(mode=config.loss.adversarial_mode)
        self.ssim_loss = SSIMLoss(data_range=1.0)
        self.gdl = GradientDifferenceLoss() if config.loss.gdl > 0 else None
        self.schedule = LossSchedule(config.loss)
        self.perceptual = None
        if config.loss.perceptual > 0:
            from mrigan.losses import PerceptualLoss
            from mrigan.nn import load_feature_net

            self.perceptual = PerceptualLoss(load_feature_net(resolve_repo_path(config.loss.feature_net)))

    # the same generator / optional discriminator / optional perceptual net layout as the restoration recipe
    modules = RestoreTask.modules
    ema_targets = RestoreTask.ema_targets
    configure_optimizers = RestoreTask.configure_optimizers
    configure_schedulers = RestoreTask.configure_schedulers

    def pixel_loss(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The scheduled pixel loss, and MSE and 1 - SSIM for the logs."""
        output, target = output.float(), target.float()
        mse = F.mse_loss(output, target)
        one_minus_ssim = self.ssim_loss(output, target)
        loss = {
            "mse": lambda: mse,
            "l1": lambda: F.l1_loss(output, target),
            "ssim": lambda: one_minus_ssim,
            "ssim_mse": lambda: self.config.loss.ssim_weight * one_minus_ssim + self.config.loss.mse_weight * mse,
        }[self.schedule.active]()
        return loss, {"mse": float(mse.detach()), "1-ssim": float(one_minus_ssim.detach())}

    def training_step(self, batch: dict[str, torch.Tensor], step) -> dict[str, float]:
        loss_config = self.config.loss
        self._update_schedule(step)
        target = batch["target"]
        logs: dict[str, float] = {}
        with step.autocast():
            fake = self.generator(batch["input"])
        if self.discriminator is not None:
            self.discriminator.requires_grad_(True)
            with step.autocast():
                real_logits = self.discriminator(target)
                fake_logits = self.discriminator(fake.detach())
                loss_d = self.adversarial.discriminator_loss(real_logits, fake_logits)
            step.optimize("discriminator", loss_d)
            logs.update(loss_d=float(loss_d.detach()), **gan_scores(real_logits.detach(), fake_logits.detach()))
            self.discriminator.requires_grad_(False)
        with step.autocast():
            pixel, pixel_logs = self.pixel_loss(fake, target)
            loss_g = loss_config.pixel * pixel
            logs.update(pixel_logs)
            if self.discriminator is not None:
                relativistic = loss_config.adversarial_mode == "relativistic"
                real_logits = self.discriminator(target).detach() if relativistic else None
                adversarial = self.adversarial.generator_loss(self.discriminator(fake), real_logits)
                loss_g = loss_g + loss_config.adversarial * adversarial
                logs["adv_g"] = float(adversarial.detach())
            for name, term, weight in (("perceptual", self.perceptual, loss_config.perceptual),
                                       ("gdl", self.gdl, loss_config.gdl)):
                if term is not None:
                    value = term(fake.float(), target.float())
                    loss_g = loss_g + weight * value
                    logs[name] = float(value.detach())
        step.optimize("generator", loss_g)
        logs["loss_g"] = float(loss_g.detach())
        if loss_config.schedule == "ssim_then_mse":
            logs["phase"] = float(self.schedule.phase)
        return logs

    def _update_schedule(self, step) -> None:
        """Judge the last validation; under torchrun every process takes rank 0's decision (only it validates)."""
        self.schedule.update(step.global_step)
        every = self.config.trainer.val_every
        if step.world_size > 1 and every and step.global_step and step.global_step % every == 0:
            import torch.distributed as dist

            state = [self.schedule.state_dict()]
            dist.broadcast_object_list(state, src=0)
            self.schedule.load_state_dict(state[0])

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, float]:
        from pytorch_msssim import ssim

        output = models["generator"](batch["input"]).float().clamp(0.0, 1.0)
        target, brain = batch["target"].float(), batch["brain"] > 0.5
        squared = (output - target) ** 2
        squared_bicubic = (batch["bicubic"].float().clamp(0.0, 1.0) - target) ** 2
        inside = brain if brain.any() else torch.ones_like(brain)
        ssim_value = float(ssim(output, target, data_range=1.0, size_average=True))
        self.schedule.observe(1.0 - ssim_value, int(target.shape[0]))
        metrics = {
            "psnr": _psnr(squared),
            "psnr_fg": _psnr(squared[inside]),
            "ssim": ssim_value,
            "psnr_fg_bicubic": _psnr(squared_bicubic[inside]),
        }
        if "discriminator" in models:
            discriminator = models["discriminator"]
            metrics.update(gan_scores(discriminator(target), discriminator(output)))
        return metrics

    @torch.no_grad()
    def sample_images(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
        output = models["generator"](batch["input"][:4]).float().clamp(0.0, 1.0)
        target = batch["target"][:4].float()
        return {
            "bicubic": batch["bicubic"][:4, 0].cpu().numpy(),
            "output": output[:, 0].cpu().numpy(),
            "target": target[:, 0].cpu().numpy(),
            "|output - target|": (output - target).abs()[:, 0].cpu().numpy(),
        }

    def model_card(self, name: str) -> dict[str, Any]:
        if name != "generator":
            return {}
        config = self.config
        return {
            "intensity": INTENSITY,
            "super_resolution": super_resolution_card(self.generator, config),
            "training": {"data": {"samples": config.data.samples, "folders": config.data.folders,
                                  "figshare": config.data.figshare,
                                  "held_out": "colin27 (never used in training or validation)"}},
        }

    def state_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state["schedule"])


def super_resolution_card(generator: SuperResolutionNet, config: SuperResolveConfig) -> dict[str, Any]:
    """What an enhancer needs to run the model: scale, input, grid convention, size constraints."""
    body = generator.body
    return {
        "scale": config.scale,
        "input": generator.input,
        "interpolation": ("low-resolution image, upsampled by the network" if generator.input == "low_res" else
                          "cubic B-spline onto the target grid (mrigan.data.sr_pairs.bicubic), pixel areas aligned"),
        "grid": "target pixel j lies at low-resolution coordinate (j + 0.5) / scale - 0.5 on each in-plane axis",
        "residual": generator.residual,
        "spatial_dims": 2,
        "axes": "in-plane: the first two axes; a volume is processed slice by slice along its last axis",
        "fixed_input_size": getattr(body, "input_size", None),
        "multiple": 2 ** getattr(body, "downsamplings", 0),
        "output_range": [0.0, 1.0],
        "degradations": list(config.data.degradation.kinds),
    }


# ------------------------------------------------------------------------------------------------ data
def training_subjects(config: SuperResolveConfig):
    """(train, validation) subjects: the restoration split (central validation slab per volume, folders by
    subject), plus the seed-001 figshare crops split 80 / 10 / 10 by patient, stratified by class."""
    from mrigan.tasks.restore import split_training_volumes

    data = config.data
    train, validation = (split_training_volumes(data, context=0, seed=config.trainer.seed)
                         if (data.samples or data.folders) else ([], []))
    if data.figshare:
        from mrigan.data.sr_pairs import figshare_subjects
        from mrigan.data.subjects import split_subjects

        parts = split_subjects(figshare_subjects(data.figshare, data.crop_margin), seed=config.trainer.seed)
        train.extend(parts[0])
        validation.extend(parts[1])
    if not train or not validation:
        raise UsageError("no training data: set data.samples, data.folders or data.figshare")
    return train, validation


def build_datasets(config: SuperResolveConfig):
    """The training pairs (random augmented windows) and a fixed validation set (centred windows)."""
    from mrigan.data.sr_pairs import SRPairDataset

    train_subjects, validation_subjects = training_subjects(config)
    common = {"scale": config.scale, "input": input_of(config), "degradation": config.data.degradation,
              "min_foreground": config.data.min_foreground}
    train = SRPairDataset(train_subjects, size=config.data.crop, augment=config.data.augment,
                          seed=config.trainer.seed, **common)
    validation = SRPairDataset(validation_subjects, size=validation_crop(config), augment=None,
                               seed=config.trainer.seed + 1, **common)
    if len(validation) > config.data.validation_slices:
        keep = np.linspace(0, len(validation) - 1, config.data.validation_slices).round().astype(int)
        validation.index = [validation.index[i] for i in keep]
    return train, validation


# ------------------------------------------------------------------------------------------------ inference
@torch.no_grad()
def upscale(generator: nn.Module, card: dict[str, Any], image: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
    """Super-resolve a 2D image or each slice (last axis) of a volume in plane, values in [0, 1].

    Args:
        generator: a loaded `SuperResolutionNet` (eval mode).
        card: the model card (its "super_resolution" entry is used).
        image: (H, W) or (X, Y, Z) low-resolution image normalised to [0, 1].
        batch_size: slices per forward pass.

    Returns:
        (scale H, scale W) or (scale X, scale Y, Z), float32, clipped to [0, 1].

    Raises:
        ValueError: a fixed-size model given another size.
    """
    from mrigan.data.sr_pairs import bicubic
    from mrigan.physics.base import Degraded

    info = card["super_resolution"]
    scale, multiple = int(info["scale"]), int(info.get("multiple", 1))
    volume = np.asarray(image, dtype=np.float32)
    volume = volume[..., None] if volume.ndim == 2 else volume
    height, width = volume.shape[:2]
    fixed = info.get("fixed_input_size")
    if fixed is not None and (height, width) != (fixed, fixed):
        raise ValueError(f"this model takes {fixed} x {fixed} inputs only, got {height} x {width}")
    slices = np.moveaxis(volume, -1, 0)
    if info["input"] == "upsampled":
        target = (height * scale, width * scale)
        slices = np.stack([bicubic(Degraded(image=s, source_shape=target, zoom=(1 / scale,) * 2)) for s in slices])
    pad = [(0, 0)] + [(0, -n % multiple) for n in slices.shape[1:]]
    padded = np.pad(slices, pad, mode="reflect") if any(p[1] for p in pad) else slices
    device = next(generator.parameters()).device
    outputs = []
    for start in range(0, len(padded), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(padded[start : start + batch_size, None])).to(device)
        outputs.append(generator(chunk)[:, 0].float().clamp(0.0, 1.0).cpu().numpy())
    result = np.concatenate(outputs)[:, : height * scale, : width * scale]
    result = np.moveaxis(result, 0, -1)
    return result[..., 0] if np.ndim(image) == 2 else result


def upscale_through_plane(generator: nn.Module, card: dict[str, Any], volume: np.ndarray, *,
                          batch_size: int = 8) -> np.ndarray:
    """Super-resolve a thick-slice volume along its last axis with an in-plane model, values in [0, 1].

    The model runs on the coronal (X, Z) and on the sagittal (Y, Z) planes. Each pass upscales both axes of
    its plane; the in-plane axis, already at full resolution, is block-averaged back to its size, and the two
    estimates of the finer slices are averaged.

    Args:
        generator: a loaded `SuperResolutionNet` (eval mode).
        card: the model card.
        volume: (X, Y, Z) normalised to [0, 1], Z the thick-slice axis.
        batch_size: planes per forward pass.

    Returns:
        (X, Y, scale Z), float32, in [0, 1].
    """
    scale = int(card["super_resolution"]["scale"])
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f"through-plane upscaling needs a 3D volume, got shape {volume.shape}")
    x, y, z = volume.shape
    coronal = upscale(generator, card, np.moveaxis(volume, 1, -1), batch_size=batch_size)  # (sX, sZ, Y)
    coronal = np.moveaxis(coronal.reshape(x, scale, z * scale, y).mean(axis=1), -1, 1)
    sagittal = upscale(generator, card, np.moveaxis(volume, 0, -1), batch_size=batch_size)  # (sY, sZ, X)
    sagittal = np.moveaxis(sagittal.reshape(y, scale, z * scale, x).mean(axis=1), -1, 0)
    return (0.5 * (coronal + sagittal)).astype(np.float32)
