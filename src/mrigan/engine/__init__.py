"""The training loop every task shares.

`Trainer(config, run_dir, run_config=...).fit(task, train_loader, val_loader, resume=...)` runs a recipe that
implements `TrainingTask` (modules, configure_optimizers, training_step, validation_step): mixed precision
(`TrainerConfig.amp`), gradient clipping, an EMA of the generator used in validation and export, early stopping
on a validation metric with the best model kept, metrics CSV / TensorBoard / figures, checkpoints that resume
bit-exactly (CPU, deterministic mode) after the process is killed at any point, and data-parallel training.

A recipe updates its networks explicitly, D step then G step:

    def training_step(self, batch, step):
        with step.autocast():
            fake = self.generator(batch["input"])
            loss_d = self.adversarial_d(self.discriminator(real_pair), self.discriminator(fake_pair.detach()))
        step.optimize("discriminator", loss_d)
        with step.autocast():
            loss_g = self.generator_loss(fake, batch["target"], self.discriminator(fake_pair))
        step.optimize("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

Use `make_loader(dataset, batch_size, seed)` for the training data: its order depends only on (seed, epoch),
it can start mid-epoch, and it shards the data under torchrun.

Distributed training (torch.distributed, launched by torchrun; NCCL on GPUs, gloo on CPU). Each process takes
GPU LOCAL_RANK and its shard of the data, so the effective batch is (processes x batch size). Only rank 0 writes
files; on resume every rank reads the checkpoint, so the run folder must be on storage all nodes can see.
How the D and G updates are kept in sync is explained in `mrigan.engine.distributed`.

    # one machine, every GPU
    torchrun --standalone --nproc_per_node=gpu -m mrigan.cli train CONFIG.yaml [options]

    # two machines with 8 GPUs each: run on every machine, HOST = address of the first one
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_id=mrigan-run --rdzv_backend=c10d \
        --rdzv_endpoint=HOST:29500 -m mrigan.cli train CONFIG.yaml [options]

    # two CPU processes (gloo), e.g. to try it out
    torchrun --standalone --nproc_per_node=2 -m mrigan.cli train CONFIG.yaml --set trainer.device=cpu

For bit-exact runs on CUDA, set `CUBLAS_WORKSPACE_CONFIG=:4096:8` in the environment before launching (the
trainer sets it when `deterministic` is on, but it only takes effect before CUDA's first matrix multiply).
"""

from __future__ import annotations

from mrigan.engine.data import ResumableSampler, make_loader, move_to_device, set_loader_epoch
from mrigan.engine.distributed import DistributedContext, setup_distributed
from mrigan.engine.state import capture_rng_state, load_checkpoint, restore_rng_state, seed_everything
from mrigan.engine.task import StepContext, TrainingTask
from mrigan.engine.trainer import EarlyStoppingConfig, FitResult, Trainer, TrainerConfig

__all__ = [
    "DistributedContext",
    "EarlyStoppingConfig",
    "FitResult",
    "ResumableSampler",
    "StepContext",
    "Trainer",
    "TrainerConfig",
    "TrainingTask",
    "capture_rng_state",
    "load_checkpoint",
    "make_loader",
    "move_to_device",
    "restore_rng_state",
    "seed_everything",
    "set_loader_epoch",
    "setup_distributed",
]
