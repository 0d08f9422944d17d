"""Translator: translation models on whole slices or stitched patches, same grid, refusals with one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mrigan.errors import InputError
from mrigan.inference import Translator
from mrigan.io.volume import Volume
from mrigan.training import load_run_config

CONFIGS = Path("configs/translation")
SMALL = ["generator.depth=3", "generator.base_channels=4", "generator.max_channels=16",
         "discriminator.base_channels=4", "discriminator.n_layers=2", "data.patch=[16,16]"]
#: No clipping of the input range: an identity generator then gives the input back exactly.
FULL_RANGE = {"normalise": "robust_minmax", "low": 0.0, "high": 100.0}


def identity_fcn(spatial_dims: int = 2) -> nn.Module:
    """A real `mrigan.nn.FCN` whose convolutions pass the centre tap only: output == input (for inputs >= 0)."""
    from mrigan.nn import FCN

    network = FCN(spatial_dims=spatial_dims, num_layers=1, channels=1, norm="none", out_activation="none")
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                module.weight.zero_()
                module.weight[(0, 0, *[1] * spatial_dims)] = 1.0
                module.bias.zero_()
    return network.eval()


def paired_card(overrides: list[str], **extra) -> dict:
    """The card a pix2pix run exports for its generator (as `Trainer._export` writes it, minus the weights)."""
    from mrigan.tasks.translate import Pix2PixTask

    task = Pix2PixTask(load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", [*SMALL, *overrides]))
    return {"name": "generator", "task": "translate", "kwargs": {"in_channels": 1}, **task.model_card("generator"),
            **extra}


class BatchRecorder(nn.Module):
    """Wraps a network and records the batch sizes it is called with."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network, self.calls = network, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        return self.network(x)


def volume(shape, seed: int = 0) -> Volume:
    data = 10.0 + 90.0 * np.random.default_rng(seed).random(shape).astype(np.float32)
    return Volume(data=data, affine=np.diag([0.9, 0.9, 2.0, 1.0]), source_format="nifti")


@pytest.mark.parametrize("overrides, shape", [
    (["stitch.stride=12"], (40, 36, 3)),  # 2D patches of each axial slice
    (["stitch.stride=12"], (40, 36)),  # a 2D image
    (["data.patch=[16,16,16]", "generator.depth=2", "stitch.stride=10", "stitch.overlap_mode=average"], (30, 26, 20)),
    (["stitch.mode=slices"], (37, 30, 2)),  # whole slices, zero-padded to a multiple of 8 and cropped back
])
def test_an_identity_generator_gives_the_input_back_on_the_same_grid(overrides, shape):
    card = paired_card(overrides, intensity=FULL_RANGE)
    recorder = BatchRecorder(identity_fcn(len(card["inference"].get("patch", [0, 0]))))
    translator = Translator(recorder, card)
    scan = volume(shape)
    result = translator.restore(scan, batch_size=5)
    assert result.volume.shape == scan.shape and result.uncertainty is None
    np.testing.assert_array_equal(result.volume.affine, scan.affine)
    np.testing.assert_allclose(result.volume.data, scan.data, rtol=1e-5)
    info = result.info
    assert info["mode"] == "translate" and info["translation"] == "T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T"
    assert info["source"]["field_t"] == 7.0 and info["target"]["field_t"] == 9.4 and info["device"] == "cpu"
    assert max(call[0] for call in recorder.calls) <= 5  # batch by batch: memory does not grow with the input
    if card["inference"]["mode"] == "patches":
        assert sum(call[0] for call in recorder.calls) == info["inference"]["patches"]
        assert all(call[2:] == tuple(card["inference"]["patch"]) for call in recorder.calls)
    else:
        assert all(call[2] % 8 == 0 and call[3] % 8 == 0 for call in recorder.calls)


def test_a_zero_background_comes_back_zero_with_the_cards_percentile_scaling():
    card = paired_card(["stitch.mode=slices"])  # the default 0.1 / 99.9 percentiles of the non-zero voxels
    scan = volume((32, 32, 2))
    scan.data[:8] = 0.0  # a skull-stripped border
    result = Translator(identity_fcn(2), card).restore(scan)
    assert np.all(result.volume.data[:8] == 0)
    assert result.volume.data[8:].min() >= result.info["intensity"]["low_value"] - 1e-3


def test_a_real_generator_maps_onto_the_input_range_the_same_whatever_the_batch():
    from mrigan.tasks.translate import CycleGANTask

    torch.manual_seed(0)
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", SMALL))
    translator = Translator(task.generator_ba, {"name": "generator_ba", "task": "translate",
                                                **task.model_card("generator_ba")})
    assert translator.direction == "T2w SE 3T -> T1w SE 3T"
    scan = volume((33, 29, 4))
    one, all_ = (translator.restore(scan, batch_size=n) for n in (1, 8))
    np.testing.assert_allclose(one.volume.data, all_.volume.data, atol=1e-5)
    scaling = one.info["intensity"]
    low, high = np.percentile(scan.data, [0.1, 99.9])
    assert scaling["low_value"] == pytest.approx(low) and scaling["high_value"] == pytest.approx(high)
    assert low - 1e-3 <= one.volume.data.min() and one.volume.data.max() <= high + 1e-3  # [0, 1] -> input range
    assert one.volume.data.std() > 0


@pytest.mark.parametrize("overrides", [["stitch.mode=slices"], ["stitch.stride=12"]])
def test_a_card_that_asks_for_flip_averaging_runs_four_flipped_passes_and_the_caller_can_refuse(overrides):
    from mrigan.nn import FlipAverage

    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Sigmoid()).eval()  # not flip-symmetric
    card = paired_card(overrides, intensity=FULL_RANGE)
    card["inference"]["flip_average"] = True
    recorder = BatchRecorder(network)
    scan = volume((40, 36, 2))
    averaged = Translator(recorder, card).restore(scan, batch_size=2)
    one_pass = Translator(network, card).restore(scan, batch_size=2, flip_average=False)
    assert averaged.info["inference"]["flip_average"] and not one_pass.info["inference"]["flip_average"]
    reference = paired_card(overrides, intensity=FULL_RANGE)  # the same card without the entry: one pass
    np.testing.assert_allclose(one_pass.volume.data, Translator(network, reference).restore(scan).volume.data)
    expected = Translator(FlipAverage(network), reference).restore(scan, batch_size=2).volume.data
    np.testing.assert_allclose(averaged.volume.data, expected, rtol=1e-6)
    assert np.abs(averaged.volume.data - one_pass.volume.data).max() > 1e-3
    single = BatchRecorder(network)
    Translator(single, reference).restore(scan, batch_size=2)
    assert len(recorder.calls) == 4 * len(single.calls)  # four passes per slice or patch


def test_a_card_without_inference_takes_the_training_configs_stitch_settings():
    card = paired_card(["stitch.stride=12"])
    card.pop("inference")
    card["config"] = {"data": {"patch": [16, 16]}, "stitch": {"mode": "patches", "stride": 8, "overlap_mode": "crop"}}
    translator = Translator(identity_fcn(), card)
    assert translator.inference["mode"] == "patches" and translator.grid().overlap_mode == "crop"
    assert translator.grid().stride == (8, 8)


def test_bad_inputs_are_refused_with_one_clear_error():
    translator = Translator(identity_fcn(3), paired_card(["data.patch=[16,16,16]", "generator.depth=2",
                                                          "stitch.stride=10"]))
    with pytest.raises(ValueError, match="mask"):
        translator.restore(volume((20, 20, 20)), mask=np.ones((20, 20, 20), bool))
    with pytest.raises(ValueError, match=r"\(20x20x8\) is smaller than one 16x16x16 patch"):
        translator.restore(volume((20, 20, 8)))
    with pytest.raises(ValueError, match="3D 16x16x16 patches; give it a volume"):
        translator.restore(volume((20, 20)))
    with pytest.raises(ValueError, match="channel"):
        translator.restore(volume((20, 20, 20, 2)))
    with pytest.raises(ValueError, match="no non-zero"):
        translator.restore(Volume(data=np.zeros((20, 20, 20), np.float32)))
    for options, message in [({"scale": 2}, "keeps the grid"), ({"uncertainty": "tta"}, "uncertainty"),
                             ({"mode": "inpaint"}, "restoration models"), ({"label": 1}, "restoration models")]:
        arguments = {"mode": "denoise", "uncertainty": None, "samples": 8, "batch_size": 8, "label": None, **options}
        with pytest.raises(ValueError, match=message):
            translator.check_options(**arguments)
    translator.check_options(mode="denoise", uncertainty=None, samples=8, batch_size=8, label=None)


def test_cards_that_are_not_one_channel_generators_are_refused():
    from mrigan.tasks.translate import Pix2PixTask

    task = Pix2PixTask(load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", SMALL))
    discriminator_card = {"name": "discriminator", "task": "translate", **task.model_card("discriminator")}
    with pytest.raises(InputError, match="generator.json"):
        Translator(task.discriminator, discriminator_card)
    with pytest.raises(InputError, match="2 input channels"):
        Translator(identity_fcn(), paired_card([], kwargs={"in_channels": 2}))
    with pytest.raises(InputError, match="patch grid"):
        Translator(identity_fcn(), paired_card([], inference={"mode": "patches", "patch": [16, 16], "stride": 5}))
