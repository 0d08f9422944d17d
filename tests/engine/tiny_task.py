"""A tiny GAN-like task for engine tests: two small conv nets, a D step then a G step, dropout, BatchNorm, and a
dataset with random augmentation drawn both from (seed, epoch, index) and from torch's global generator."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from mrigan.checkpoint import remember_kwargs
from mrigan.engine import StepContext


@remember_kwargs
class TinyGenerator(nn.Module):
    """conv - BatchNorm - ReLU - dropout - conv, residual."""

    def __init__(self, *, channels: int = 1, width: int = 6, dropout: float = 0.2) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@remember_kwargs
class TinyDiscriminator(nn.Module):
    """A two-layer patch discriminator on (input, candidate) pairs."""

    def __init__(self, *, channels: int = 2, width: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.1),
            nn.Conv2d(width, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class NoisyPatterns(Dataset):
    """Smooth 8x8 patterns (targets) and noisy copies (inputs), with flips from (seed, epoch, index) and noise
    from torch's global generator (in the main process, so that resuming must restore it)."""

    def __init__(self, count: int = 20, size: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(1234)
        grid = np.linspace(0, 1, size, dtype=np.float32)
        self.targets = []
        for _ in range(count):
            a, b, c = rng.uniform(0.5, 3.0, 3)
            self.targets.append(np.sin(a * grid[:, None] + b * grid[None, :] + c).astype(np.float32)[None])
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        flip = np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5
        target = torch.from_numpy(self.targets[index].copy())
        if flip:
            target = target.flip(-1)
        noisy = target + 0.2 * torch.randn_like(target)
        return {"input": noisy, "target": target}


class TinyGanTask:
    """D step then G step (vanilla GAN + L1), as a restoration recipe does."""

    name = "tiny"

    def __init__(
        self,
        *,
        lr_generator: float = 2e-3,
        lr_discriminator: float = 1e-3,
        step_sleep: float = 0.0,
        sleep_after: int = 0,
    ) -> None:
        self.generator = TinyGenerator()
        self.discriminator = TinyDiscriminator()
        self.lr_generator = lr_generator
        self.lr_discriminator = lr_discriminator
        self.step_sleep = step_sleep
        self.sleep_after = sleep_after

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=self.lr_generator, betas=(0.5, 0.999)),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), lr=self.lr_discriminator, betas=(0.5, 0.999)
            ),
        }

    def training_step(self, batch: dict[str, torch.Tensor], step: StepContext) -> dict[str, Any]:
        noisy, clean = batch["input"], batch["target"]
        with step.autocast():
            fake = self.generator(noisy)
            real_score = self.discriminator(torch.cat([noisy, clean], 1))
            fake_score = self.discriminator(torch.cat([noisy, fake.detach()], 1))
            loss_d = F.binary_cross_entropy_with_logits(real_score, torch.ones_like(real_score)) + (
                F.binary_cross_entropy_with_logits(fake_score, torch.zeros_like(fake_score))
            )
        step.optimize("discriminator", loss_d)
        with step.autocast():
            fake_score = self.discriminator(torch.cat([noisy, fake], 1))
            loss_g = F.binary_cross_entropy_with_logits(fake_score, torch.ones_like(fake_score)) + 10 * F.l1_loss(
                fake, clean
            )
        step.optimize("generator", loss_g)
        if self.step_sleep and step.global_step >= self.sleep_after:
            time.sleep(self.step_sleep)  # slows the run down so that a test can kill it mid-run
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    def validation_step(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, float]:
        output = models["generator"](batch["input"])
        mse = F.mse_loss(output, batch["target"]).item()
        return {"l1": F.l1_loss(output, batch["target"]).item(), "psnr": 10 * float(np.log10(4.0 / max(mse, 1e-12)))}

    def sample_images(self, batch: dict[str, torch.Tensor], models: dict[str, nn.Module]) -> dict[str, np.ndarray]:
        output = models["generator"](batch["input"])
        return {"input": batch["input"].numpy(), "output": output.numpy(), "target": batch["target"].numpy()}


def module_weights(task: TinyGanTask, ema: bool = False) -> dict[str, torch.Tensor]:
    """Every tensor of both modules, flat, for comparisons."""
    return {
        f"{name}.{key}": value.detach().clone()
        for name, module in task.modules().items()
        for key, value in module.state_dict().items()
    }
