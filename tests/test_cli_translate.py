"""`mrigan enhance` with translation models (task "translate") through the real entry point.

The cards are written as a training run exports them (the recipe's `model_card` + `save_model`), around a tiny
untrained CycleGAN generator (whole slices) and an identity `FCN` (stitched patches), so no training is needed.
The PNG path runs the console script in a subprocess; the others run `mrigan.cli.main` in-process.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from torch import nn

CONFIGS = Path("configs/translation")
SMALL = ["generator.depth=3", "generator.base_channels=4", "generator.max_channels=16",
         "discriminator.base_channels=4", "discriminator.n_layers=2", "data.patch=[16,16]"]


pytestmark = pytest.mark.usefixtures("seeded_single_thread_torch")


def export(task, module: nn.Module, name: str, folder: Path, **extra) -> Path:
    """Save `module` with the card the trainer would give it (see `Trainer._export`)."""
    from mrigan.checkpoint import save_model

    card = {**task.model_card(name), **extra}
    return save_model(module, folder / name, name=name, task="translate", config=asdict(task.config),
                      training={"steps": 0, **card.pop("training", {})}, metrics={}, extra=card)


def identity_fcn(spatial_dims: int) -> nn.Module:
    """A real `mrigan.nn.FCN` that passes the centre tap only: output == input (inputs >= 0)."""
    from mrigan.nn import FCN

    network = FCN(spatial_dims=spatial_dims, num_layers=1, channels=1, norm="none", out_activation="none")
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                module.weight.zero_()
                module.weight[(0, 0, *[1] * spatial_dims)] = 1.0
                module.bias.zero_()
    return network


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory) -> Path:
    """A CycleGAN run's final/ folder: generator (T1w -> T2w), generator_ba (T2w -> T1w), a discriminator."""
    from mrigan.tasks.translate import CycleGANTask
    from mrigan.training import load_run_config

    torch.manual_seed(0)
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", SMALL))
    final = tmp_path_factory.mktemp("cyclegan") / "final"
    for name, module in task.modules().items():
        if name != "discriminator_b":
            export(task, module, name, final)
    return final


@pytest.fixture(scope="module")
def patch_cards(tmp_path_factory) -> dict[int, Path]:
    """Identity pix2pix-family generators on 16 x 16 patches (stride 12, Hann) and 16^3 patches."""
    from mrigan.tasks.translate import Pix2PixTask
    from mrigan.training import load_run_config

    folder = tmp_path_factory.mktemp("pix2pix")
    cards = {}
    for dims, extra in [(2, []), (3, ["data.patch=[16,16,16]", "generator.depth=2"])]:
        task = Pix2PixTask(load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", [*SMALL, "stitch.stride=12", *extra]))
        full_range = {"normalise": "robust_minmax", "low": 0.0, "high": 100.0}  # no clipping: identity is exact
        cards[dims] = export(task, identity_fcn(dims), "generator", folder / f"{dims}d", intensity=full_range)
    return cards


def run_in_process(*args, capsys) -> tuple[int, str, str]:
    from mrigan.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_png_goes_through_the_console_script(run_mrigan, mni_block, cyclegan_run, tmp_path):
    from PIL import Image

    data, _ = mni_block
    png = tmp_path / "slice.png"
    Image.fromarray(np.clip(data[..., 4], 0, 255).astype(np.uint8)).save(png)
    output = tmp_path / "out" / "t1.png"
    result = run_mrigan("enhance", png, "-m", cyclegan_run / "generator_ba.json", "-o", output, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    translated = np.asarray(Image.open(output))
    assert translated.dtype == np.uint8 and translated.shape == data[..., 4].shape and translated.std() > 0
    record = json.loads(Path(f"{output}.json").read_text())
    card = json.loads((cyclegan_run / "generator_ba.json").read_text())
    assert record["model"]["task"] == "translate" and record["model"]["sha256"] == card["sha256"]
    assert record["model"]["translation"] == "T2w SE 3T -> T1w SE 3T"
    assert record["restoration"]["mode"] == "translate" and record["options"]["mode_used"] == "translate"


def test_a_volume_goes_through_each_direction_of_a_cyclegan_run(mni_nifti, cyclegan_run, tmp_path, capsys):
    source = nib.load(mni_nifti)
    outputs = {}
    for name, direction in [("generator", "T1w SE 3T -> T2w SE 3T"), ("generator_ba", "T2w SE 3T -> T1w SE 3T")]:
        output = tmp_path / f"{name}.nii.gz"
        code, out, err = run_in_process("enhance", mni_nifti, "-m", cyclegan_run / f"{name}.json", "-o", output,
                                        "--device", "cpu", capsys=capsys)
        assert code == 0, err
        translated = nib.load(output)
        assert translated.shape == source.shape
        np.testing.assert_allclose(translated.affine, source.affine)
        np.testing.assert_allclose(translated.header.get_zooms(), source.header.get_zooms())
        outputs[name] = translated.get_fdata()
        assert np.isfinite(outputs[name]).all()
        record = json.loads(Path(f"{output}.json").read_text())
        assert record["model"]["translation"] == record["restoration"]["translation"] == direction
        assert record["restoration"]["inference"]["mode"] == "slices"
        assert len(record["inputs"]["input"]["sha256"]) == 64
    assert not np.allclose(outputs["generator"], outputs["generator_ba"])


def test_flip_average_on_the_command_line_overrides_the_card_and_is_recorded(mni_nifti, cyclegan_run, patch_cards,
                                                                            tmp_path, capsys):
    outputs = {}
    for flag in ("--flip-average", "--no-flip-average"):
        output = tmp_path / f"{flag}.nii.gz"
        code, _, err = run_in_process("enhance", mni_nifti, "-m", cyclegan_run / "generator.json", "-o", output,
                                      "--device", "cpu", flag, capsys=capsys)
        assert code == 0, err
        outputs[flag] = nib.load(output).get_fdata()
        record = json.loads(Path(f"{output}.json").read_text())
        assert record["restoration"]["inference"]["flip_average"] == (flag == "--flip-average")
    assert not np.allclose(outputs["--flip-average"], outputs["--no-flip-average"])
    code, _, err = run_in_process("enhance", mni_nifti, "-m", "umr-gan-small", "-o", tmp_path / "o.nii.gz",
                                  "--flip-average", capsys=capsys)
    assert code == 2 and "translation models" in err and not (tmp_path / "o.nii.gz").exists()


def test_a_patch_model_stitches_the_volume_and_an_identity_one_gives_it_back(mni_nifti, patch_cards, tmp_path,
                                                                             capsys):
    output = tmp_path / "stitched.nii.gz"
    code, _, err = run_in_process("enhance", mni_nifti, "-m", patch_cards[2], "-o", output, "--batch-size", "7",
                                  capsys=capsys)
    assert code == 0, err
    source, stitched = nib.load(mni_nifti), nib.load(output)
    np.testing.assert_allclose(stitched.affine, source.affine)
    before, after = source.get_fdata(), stitched.get_fdata()
    known = before != 0  # exact zeros come back at the input's lowest value (the [0, 1] -> input-range map)
    np.testing.assert_allclose(after[known], before[known], rtol=1e-4, atol=1e-3)
    record = json.loads(Path(f"{output}.json").read_text())
    inference = record["restoration"]["inference"]
    assert inference["mode"] == "patches" and inference["overlap_mode"] == "hann" and inference["stride"] == 12
    assert inference["patches"] == 5 * 5 * source.shape[2]  # 64 = 16 + 4 x 12: 5 starts per axis, per slice
    assert record["model"]["task"] == "translate" and record["options"]["batch_size"] == 7


@pytest.mark.parametrize("args, message", [
    (["--mask", "MASK"], "--mask is for restoration models"),
    (["--noise-sigma", "0.1"], "--noise-sigma is for restoration models"),
    (["--uncertainty", "tta"], "uncertainty"),
    (["--scale", "2"], "keeps the grid"),
    (["--mode", "inpaint"], "restoration models"),
])
def test_restoration_options_are_refused(mni_nifti, patch_cards, tmp_path, capsys, args, message):
    mask = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((64, 64, 8), np.uint8), np.eye(4)), mask)
    output = tmp_path / "out.nii.gz"
    args = [str(mask) if a == "MASK" else a for a in args]
    code, _, err = run_in_process("enhance", mni_nifti, "-m", patch_cards[2], "-o", output, *args, capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not output.exists() and not Path(f"{output}.json").exists()


def test_bad_inputs_and_cards_exit_2_and_write_nothing(mni_nifti, mni_block, patch_cards, cyclegan_run, tmp_path,
                                                       capsys):
    data, affine = mni_block
    four_d = tmp_path / "two_channels.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), affine), four_d)
    cases = [
        (mni_nifti, patch_cards[3], "(64x64x8) is smaller than one 16x16x16 patch"),  # a 3D patch model, 8 slices
        (four_d, patch_cards[2], "4D volume"),  # two channels
        (mni_nifti, cyclegan_run / "discriminator_a.json", "generator_ba.json"),  # a run's discriminator
    ]
    for number, (scan, card, message) in enumerate(cases):
        output = tmp_path / f"out{number}.nii.gz"
        code, _, err = run_in_process("enhance", scan, "-m", card, "-o", output, capsys=capsys)
        assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not output.exists() and not Path(f"{output}.json").exists()
