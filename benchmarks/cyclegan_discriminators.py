"""Why a CPU-length CycleGAN does not learn T1w <-> T2w: what its discriminators tell apart.

    .venv/bin/python benchmarks/cyclegan_discriminators.py RUN_DIR [--batches 16] [--fresh-steps 300]

Loads the newest training checkpoint of a CycleGAN run (`configs/translation/cyclegan_t1_t2.yaml`) and prints
the mean output of each discriminator (LSGAN: 1 = real, 0 = fake) on real crops of its domain, on the
generator's translations, and on real crops of the other domain, over the same training crops. Beside it, a
fresh discriminator of the same config trained alone for `--fresh-steps` steps (same optimiser) to tell real
T2w from real T1w crops: if that one separates the domains and the run's does not, the run's generators are
fooling their discriminators (the GAN game, not the discriminator's capacity, is what stalls).

Two more columns show whether a discriminator sees intensity levels, which only it can teach an unpaired
translation: its output on the same real crops with every brain voxel 0.03 brighter, and with the contrast
inside the brain flattened by 10% about 0.6 (a translation's tissue levels off by that much score as real if these
stay at the real crops' value; PatchGANs with instance norm normalise most of the levels away).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    import torch

    from mrigan.tasks.translate import CycleGANTask, build_discriminator, build_unpaired_datasets
    from mrigan.training import load_run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--batches", type=int, default=16, help="crops scored (one per training sample picked)")
    parser.add_argument("--fresh-steps", type=int, default=300)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    config = load_run_config(args.run_dir / "config.yaml", [])
    task = CycleGANTask(config)
    checkpoints = sorted((args.run_dir / "checkpoints").glob("step_*.pt"))
    if not checkpoints:
        raise SystemExit(f"{args.run_dir}: no checkpoints/step_*.pt")
    state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
    for name, module in task.modules().items():
        module.load_state_dict(state["modules"][name])
        module.eval()
    train, _ = build_unpaired_datasets(config)
    picks = np.linspace(0, len(train) - 1, args.batches).round().astype(int)
    items = [train[int(i)] for i in picks]
    real_a = torch.as_tensor(np.stack([item["a"] for item in items]))
    real_b = torch.as_tensor(np.stack([item["b"] for item in items]))
    brain_a = torch.as_tensor(np.stack([item["a_brain"] for item in items])).float()
    brain_b = torch.as_tensor(np.stack([item["b_brain"] for item in items])).float()
    step = state["loop"]["step"]
    print(f"{args.run_dir} at step {step}, {len(items)} training crops of {config.data.patch[0]} px; mean D output "
          "(1 = real, 0 = fake)\n")
    print("| discriminator | real crops of its domain | the generator's translations | real crops of the other domain "
          "| real crops, brain + 0.03 | real crops, brain contrast x 0.9 |")
    print("|---|---|---|---|---|---|")
    with torch.no_grad():
        fake_b, fake_a = task.generator(real_a), task.generator_ba(real_b)
        for label, key, real, fake, other, brain in (
                ("D_B (T2w)", "discriminator_b", real_b, fake_b, real_a, brain_b),
                ("D_A (T1w)", "discriminator_a", real_a, fake_a, real_b, brain_a)):
            d = task.discriminators[key]
            brighter, flatter = real + 0.03 * brain, real + brain * (0.6 + 0.9 * (real - 0.6) - real)
            print(f"| {label} of the run | {d(real).mean():.3f} | {d(fake).mean():.3f} | {d(other).mean():.3f} | "
                  f"{d(brighter).mean():.3f} | {d(flatter).mean():.3f} |")

    fresh = build_discriminator(config.discriminator, in_channels=1, spatial_dims=2, patch=config.data.patch)
    optim = torch.optim.Adam(fresh.parameters(), lr=config.optim.lr_discriminator,
                             betas=(config.optim.beta1, config.optim.beta2))
    rng = np.random.default_rng(0)
    batch = config.data.batch_size
    for _ in range(args.fresh_steps):
        chosen = [train[int(i)] for i in rng.integers(0, len(train), batch)]
        a = torch.as_tensor(np.stack([item["a"] for item in chosen]))
        b = torch.as_tensor(np.stack([item["b"] for item in chosen]))
        loss = 0.5 * (((fresh(b) - 1) ** 2).mean() + (fresh(a) ** 2).mean())
        optim.zero_grad()
        loss.backward()
        optim.step()
    fresh.eval()
    with torch.no_grad():
        print(f"| fresh D_B, {args.fresh_steps} steps on real T2w vs real T1w | {fresh(real_b).mean():.3f} | "
              f"{fresh(fake_b).mean():.3f} | {fresh(real_a).mean():.3f} | - | - |")


if __name__ == "__main__":
    main()
