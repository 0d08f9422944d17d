"""Translation recipes: CycleGAN and the pix2pix family train, score against the truth and export "translate" models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mrigan.engine import StepContext
from mrigan.engine.distributed import DistributedContext
from mrigan.errors import UsageError
from mrigan.tasks.translate import CycleGANTask, ImagePool, Pix2PixTask, build_generator, random_gamma
from mrigan.training import load_run_config, recipes, run_train

CONFIGS = Path("configs/translation")
SMALL = ["generator.depth=3", "generator.base_channels=4", "generator.max_channels=16",
         "discriminator.base_channels=4", "discriminator.n_layers=2", "data.patch=[32,32]"]
RUN = ["data.samples=[mni152]", "data.max_slices=10", "data.batch_size=2", "data.validation_slices=1",
       "data.patches_per_volume=4", "trainer.max_steps=2", "trainer.log_every=1", "trainer.val_every=2",
       "trainer.checkpoint_every=2", "trainer.device=cpu", "trainer.figures=false"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run faster on one thread than on several fighting over a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(keys: tuple[str, ...], shape: tuple[int, ...] = (2, 1, 32, 32)) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    batch = {key: torch.rand(shape, generator=generator) for key in keys}
    batch.update(brain=(torch.rand(shape, generator=generator) > 0.3).float(), field=torch.ones(shape))
    if "a" in keys:  # unpaired crops carry their brain masks
        batch.update(a_brain=batch["brain"], b_brain=batch["brain"])
    return batch


def _train(task, batch: dict[str, torch.Tensor], steps: int = 2) -> list[dict[str, float]]:
    optimizers = task.configure_optimizers()
    return [task.training_step(batch, StepContext(
        optimizers=optimizers, scalers={}, amp_dtype=None, grad_clip=1.0, device=torch.device("cpu"),
        distributed=DistributedContext(), global_step=i, epoch=0)) for i in range(steps)]


PAIRED = ("input", "input_true", "target", "target_true")


def test_cyclegan_steps_are_finite_and_validation_scores_four_directions():
    torch.manual_seed(0)
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [*SMALL, "loss.pool_size=3"]))
    assert set(task.modules()) == {"generator", "generator_ba", "discriminator_a", "discriminator_b"}
    logs = _train(task, _batch(("a", "b")), steps=3)
    assert {"loss_d", "cycle", "identity", "adv_g", "loss_g"} <= set(logs[-1])
    assert all(np.isfinite(value) for row in logs for value in row.values())
    assert len(task.pools["a"].images) == 3  # the pool filled up, and its state round-trips
    state = task.state_dict()
    task.load_state_dict(state)
    models = {name: module.eval() for name, module in task.modules().items()}
    batch = _batch(PAIRED)
    assert models["generator"](batch["input"]).shape == batch["input"].shape
    metrics = task.validation_step(batch, models)
    for direction in ("a2b", "b2a", "a2b2a", "b2a2b", "a2a", "b2b"):
        assert np.isfinite(metrics[f"{direction}_ssim_fg"]) and np.isfinite(metrics[f"{direction}_psnr_fg"])
    assert metrics["ssim_fg"] == pytest.approx(0.5 * (metrics["a2b_ssim_fg"] + metrics["b2a_ssim_fg"]))
    card = task.model_card("generator_ba")
    assert card["source"]["contrast"] == "t2w" and card["target"]["contrast"] == "t1w"


def test_cyclegan_validation_scores_seed_003s_reconstructions_against_the_input_domains_truth():
    """A -> A is F given A, scored against A's truth; B -> B is G given B (identity generators score 1 there)."""
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", SMALL))
    batch = _batch(PAIRED)
    batch.update(input_true=batch["input"], target_true=batch["target"])
    identity = {"generator": torch.nn.Identity(), "generator_ba": torch.nn.Identity()}
    metrics = task.validation_step(batch, identity)
    assert metrics["a2a_ssim_fg"] == pytest.approx(1.0) and metrics["b2b_ssim_fg"] == pytest.approx(1.0)
    assert metrics["a2b_ssim_fg"] < 0.5
    halved = {"generator": torch.nn.Identity(), "generator_ba": lambda image: 0.5 * image}
    assert task.validation_step(batch, halved)["a2a_ssim_fg"] < 0.99


def _cyclegan_recording_g_of_a(*overrides: str) -> tuple[CycleGANTask, list[torch.Tensor]]:
    """A small CycleGAN without an image pool, and the list its generator G: A -> B appends each output to."""
    torch.manual_seed(0)
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [*SMALL, "loss.pool_size=0", *overrides]))
    outputs: list[torch.Tensor] = []
    task.generator.register_forward_hook(lambda module, args, output: outputs.append(output.detach()))
    return task, outputs


def _inputs_of(module: torch.nn.Module) -> list[torch.Tensor]:
    """The list `module` appends each call's first input to."""
    inputs: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach()))
    return inputs


def test_translation_scores_report_the_bias_of_the_brightest_tissue_inside_the_brain():
    from mrigan.tasks.translate import translation_scores

    truth = torch.full((2, 1, 16, 16), 0.3)
    truth[:, :, 4:8, 4:8] = 0.95  # e.g. CSF in a T2w
    output = truth.clone()
    output[:, :, 4:8, 4:8] -= 0.05  # rendered too dark
    output[:, :, 10:, 10:] += 0.2  # wrong elsewhere too, which the bias does not count
    batch = {"brain": torch.ones_like(truth), "field": torch.ones_like(truth)}
    batch["brain"][:, :, 6:8, :] = 0.0  # outside the brain: not counted either
    scores = translation_scores(output, truth, batch, "a2b_")
    assert scores["a2b_bright_bias_fg"] == pytest.approx(-0.05, abs=1e-6)
    assert {"a2b_psnr_fg", "a2b_ssim_fg"} <= set(scores)
    assert np.isnan(translation_scores(output, torch.full_like(truth, 0.5), batch)["bright_bias_fg"])


@pytest.mark.parametrize("sigma", [0.0, 0.05])
def test_cyclegan_cycle_noise_jitters_what_is_translated_back(sigma):
    """The cycle pass gets G(A) plus N(0, cycle_noise^2); with 0 it gets G(A) itself (the usual CycleGAN)."""
    task, outputs_ab = _cyclegan_recording_g_of_a(f"loss.cycle_noise={sigma}")
    inputs_ba = _inputs_of(task.generator_ba)
    _train(task, _batch(("a", "b")), steps=1)
    fake_b, translated_back = outputs_ab[0], inputs_ba[1]  # G(A) first; F sees B, then G(A) for the cycle
    jitter = translated_back - fake_b
    assert float(jitter.std()) == pytest.approx(sigma, rel=0.1, abs=1e-12)
    assert abs(float(jitter.mean())) < 0.1 * sigma + 1e-12


def test_cyclegan_cycle_scan_noise_trains_the_second_generator_alone_on_scan_level_noise():
    """F also translates back G(A) detached plus N(0, cycle_scan_noise^2); no gradient of it reaches G."""
    task, outputs_ab = _cyclegan_recording_g_of_a("loss.cycle_noise=0.1", "loss.cycle_scan_noise=0.02")
    inputs_ba, needs_grad = _inputs_of(task.generator_ba), []
    task.generator_ba.register_forward_pre_hook(lambda module, args: needs_grad.append(args[0].requires_grad))
    _train(task, _batch(("a", "b")), steps=1)
    fake_b = outputs_ab[0]  # F sees B, G(A) + 0.1 noise (the cycle), G(A) + 0.02 noise (calibration), then A
    for call, sigma, grad in ((1, 0.1, True), (2, 0.02, False)):
        assert float((inputs_ba[call] - fake_b).std()) == pytest.approx(sigma, rel=0.1)
        assert needs_grad[call] is grad


@pytest.mark.parametrize("sigma", [0.0, 0.05])
def test_cyclegan_discriminators_judge_translations_with_acquisition_noise(sigma):
    """D_B sees the real B as it is and G(A) plus fresh N(0, discriminator_noise^2) in its step and in G's."""
    task, outputs_ab = _cyclegan_recording_g_of_a(f"loss.discriminator_noise={sigma}")
    judged_b = _inputs_of(task.discriminators["discriminator_b"])
    batch = _batch(("a", "b"))
    _train(task, batch, steps=1)
    real_seen, fake_in_d_step, fake_in_g_step = judged_b
    assert torch.equal(real_seen, batch["b"])
    for seen in (fake_in_d_step, fake_in_g_step):
        noise = seen - outputs_ab[0]
        assert float(noise.std()) == pytest.approx(sigma, rel=0.1, abs=1e-12)
        assert abs(float(noise.mean())) < 0.1 * sigma + 1e-12
    assert torch.equal(fake_in_d_step, fake_in_g_step) == (sigma == 0)


def test_cyclegan_distribution_term_matches_each_translation_against_the_other_domains_scans():
    """G(A) inside A's brain is pooled against real B inside B's brain (and F(B) against A); the pools resume."""
    torch.manual_seed(0)
    config = load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [*SMALL, "loss.distribution=2",
                                                               "loss.distribution_noise=0.02"])
    task = CycleGANTask(config)
    batch = _batch(("a", "b"))
    batch["b_brain"] = 1.0 - batch["a_brain"]
    logs = _train(task, batch, steps=3)
    assert all(np.isfinite(row["distribution"]) and row["distribution"] > 0 for row in logs)
    for domain, other in (("b", "a"), ("a", "b")):
        pools = task.distributions[domain]
        assert pools.noise == 0.02 and len(pools.real) == len(pools.translated) == 3
        real = batch[domain][batch[f"{domain}_brain"] > 0.5]
        assert torch.isin(pools.real[0], real).all()
        assert len(pools.translated[0]) == int((batch[f"{other}_brain"] > 0.5).sum())
    resumed = CycleGANTask(config)
    resumed.load_state_dict(task.state_dict())
    assert torch.equal(resumed.distributions["a"].translated[2], task.distributions["a"].translated[2])
    before_the_term = {name: value for name, value in task.state_dict().items() if name in ("a", "b")}
    CycleGANTask(config).load_state_dict(before_the_term)  # checkpoints of before the term still resume


def _powers(given: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(N, 2): the least and greatest power the pixels of each image were raised to, to give `given` (log / log,
    pixels away from 0 and 1); the two are equal when the whole image was raised to one power."""
    inside = (images > 0.05) & (images < 0.95)
    powers = [given[i][inside[i]].log() / images[i][inside[i]].log() for i in range(len(images))]
    return torch.stack([torch.stack([p.min(), p.max()]) for p in powers])


def test_random_gamma_raises_each_image_to_its_own_power_within_the_range():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand((64, 1, 8, 8), generator=generator)
    images[:, :, 0, 0], images[:, :, 0, 1] = 0.0, 1.0
    torch.manual_seed(1)
    given = random_gamma(images, 1 / 1.5, 1.5)
    powers = _powers(given, images)
    assert torch.allclose(powers, powers[:, :1], rtol=1e-3)  # one power per image
    assert powers.min() >= 1 / 1.5 - 1e-4 and powers.max() <= 1.5 + 1e-4
    assert powers[:, 0].log().abs().mean() > 0.1 and (powers[:, 0] > 1).any() and (powers[:, 0] < 1).any()
    assert torch.equal(given[:, :, 0, :2], images[:, :, 0, :2])  # the scale's ends stay put
    assert random_gamma(images, 1.0, 1.0) is images
    darker = _powers(random_gamma(images, 1.0, 2.0), images)[:, 0]
    assert darker.min() >= 1 - 1e-4 and darker.max() <= 2 + 1e-4 and darker.max() > 1.7


def test_cyclegan_input_gamma_changes_what_the_generators_are_given_not_what_they_are_scored_against():
    """G gets A raised to a power per image (F: B), for the translation and the identity term alike; the cycle and
    identity terms compare with A and B as they are."""
    task, _ = _cyclegan_recording_g_of_a("data.input_gamma=[0.67,1.5]", "data.input_scale=1", "data.input_noise=0",
                                         "loss.cycle_scan_noise=0", "loss.cycle_noise=0",
                                         "generator.dropout=0", "optim.lr_generator=0")
    inputs_ab, inputs_ba = _inputs_of(task.generator), _inputs_of(task.generator_ba)
    batch = _batch(("a", "b"))
    logs = _train(task, batch, steps=1)
    for inputs, real, others in ((inputs_ab, batch["a"], inputs_ba), (inputs_ba, batch["b"], inputs_ab)):
        powers = _powers(inputs[0], real)
        assert torch.allclose(powers, powers[:, :1], rtol=1e-3) and (powers[:, 0] - 1).abs().min() > 1e-3
        assert torch.equal(others[2], inputs[0])  # the other generator's identity pass: the same image
    with torch.no_grad():  # the weights did not move (lr 0): recompute both terms against the images as they are
        back_a, back_b = task.generator_ba(inputs_ba[1]), task.generator(inputs_ab[1])
        against_real = (back_a - batch["a"]).abs().mean() + (back_b - batch["b"]).abs().mean()
        against_given = (back_a - inputs_ab[0]).abs().mean() + (back_b - inputs_ba[0]).abs().mean()
        identity = (task.generator(inputs_ba[0]) - batch["b"]).abs().mean() + \
            (task.generator_ba(inputs_ab[0]) - batch["a"]).abs().mean()
    assert logs[0]["cycle"] == pytest.approx(float(against_real), rel=1e-4)
    assert abs(float(against_given) - float(against_real)) > 1e-3
    assert logs[0]["identity"] == pytest.approx(float(identity), rel=1e-4)


def test_cyclegan_identity_noise_reaches_the_identity_term_alone():
    """With loss.identity_noise, F is given A plus noise (one level per image, up to the setting) for the identity
    term and compared with A as it is; the translations and the cycle get the images as they are."""
    task, _ = _cyclegan_recording_g_of_a("loss.identity_noise=0.1", "loss.cycle_scan_noise=0", "loss.cycle_noise=0",
                                         "data.input_noise=0", "generator.dropout=0", "optim.lr_generator=0")
    inputs_ab, inputs_ba = _inputs_of(task.generator), _inputs_of(task.generator_ba)
    batch = _batch(("a", "b"), shape=(6, 1, 32, 32))
    logs = _train(task, batch, steps=1)
    for inputs, real in ((inputs_ab, batch["a"]), (inputs_ba, batch["b"])):
        assert torch.equal(inputs[0], real)  # the translation: the image as it is
    for inputs, real in ((inputs_ab, batch["b"]), (inputs_ba, batch["a"])):  # each generator's own contrast
        levels = (inputs[2] - real).std(dim=(1, 2, 3))
        assert levels.max() < 0.11 and levels.std() > 0.01  # a level per image, within [0, 0.1]
    with torch.no_grad():  # the weights did not move (lr 0): the term compares with the images as they are
        identity = (task.generator(inputs_ab[2]) - batch["b"]).abs().mean() + \
            (task.generator_ba(inputs_ba[2]) - batch["a"]).abs().mean()
    assert logs[0]["identity"] == pytest.approx(float(identity), rel=1e-4)


def test_cyclegan_identity_noise_min_raises_the_lower_end_of_the_draw():
    """loss.identity_noise_min = identity_noise gives every image the same level (Noisier2Noise's pairs);
    a range [min, max] draws each image's level within it; a minimum above the maximum is refused."""
    task, _ = _cyclegan_recording_g_of_a("loss.identity_noise=0.05", "loss.identity_noise_min=0.05",
                                         "loss.cycle_scan_noise=0", "loss.cycle_noise=0", "data.input_noise=0",
                                         "generator.dropout=0", "optim.lr_generator=0")
    inputs_ba = _inputs_of(task.generator_ba)
    batch = _batch(("a", "b"), shape=(6, 1, 32, 32))
    _train(task, batch, steps=1)
    levels = (inputs_ba[2] - batch["a"]).std(dim=(1, 2, 3))
    assert torch.allclose(levels, torch.full_like(levels, 0.05), rtol=0.06)
    from mrigan.tasks.translate import _with_noise_up_to

    images = torch.zeros((300, 1, 16, 16))
    torch.manual_seed(0)
    levels = (_with_noise_up_to(images, 0.06, 0.03) - images).std(dim=(1, 2, 3))
    assert levels.min() > 0.03 * 0.85 and levels.max() < 0.06 * 1.15 and levels.std() > 0.005
    with pytest.raises(UsageError, match="identity_noise_min .* must not exceed"):
        load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", ["loss.identity_noise=0.02", "loss.identity_noise_min=0.03"])


def test_input_noise_and_scale_draw_one_level_per_image():
    from mrigan.tasks.translate import DataConfig

    images = torch.rand((200, 1, 16, 16), generator=torch.Generator().manual_seed(0)) + 0.01
    torch.manual_seed(0)
    levels = (DataConfig(input_noise=0.1).augmented(images) - images).std(dim=(1, 2, 3))
    assert levels.max() < 0.11 and levels.min() < 0.01 and levels.std() > 0.02  # uniform in [0, 0.1]
    assert abs(float(levels.mean()) - 0.05) < 0.01
    factors = DataConfig(input_scale=1.25).augmented(images) / images
    assert torch.allclose(factors, factors[:, :, :1, :1], rtol=1e-5)  # one factor per image
    assert factors.min() >= 0.8 - 1e-6 and factors.max() <= 1 + 1e-6 and factors[:, 0, 0, 0].std() > 0.03
    assert DataConfig().augmented(images) is images
    for name, value in (("input_noise", -0.1), ("input_scale", 0.9)):
        with pytest.raises(UsageError, match=f"{name} must be >= "):
            load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [f"data.{name}={value}"])


def test_pix2pix_input_gamma_changes_the_source_not_the_target():
    torch.manual_seed(0)
    task = Pix2PixTask(load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", [*SMALL, "data.input_gamma=[0.5,2]"]))
    inputs = _inputs_of(task.generator)
    batch = _batch(PAIRED)
    _train(task, batch, steps=1)
    powers = _powers(inputs[0], batch["input"])
    assert torch.allclose(powers, powers[:, :1], rtol=1e-3) and powers.min() >= 0.5 - 1e-4
    for bad in ("[2,1]", "[0,1]"):
        with pytest.raises(UsageError, match="input_gamma must be a range"):
            load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", [f"data.input_gamma={bad}"])


@pytest.mark.parametrize("name", ["cycle_noise", "cycle_scan_noise", "consistency", "discriminator_noise",
                                  "distribution", "distribution_noise", "identity_noise", "identity_noise_min"])
def test_cyclegan_loss_weights_must_not_be_negative(name):
    with pytest.raises(UsageError, match=f"{name} must be >= 0"):
        load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [f"loss.{name}=-0.1"])
    with pytest.raises(UsageError, match="consistency_measure"):
        load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", ["loss.consistency_measure=entropy"])


@pytest.mark.parametrize("measure", ["variance", "correlation_ratio"])
def test_cyclegan_consistency_term_trains_each_translation_towards_a_function_of_its_input(measure):
    """With the intensity-consistency term alone, a few steps make both translations more consistent."""
    torch.manual_seed(0)
    task = CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", [
        *SMALL, "loss.adversarial=0", "loss.cycle=0", "loss.identity=0", "loss.consistency=1",
        f"loss.consistency_measure={measure}", "generator.dropout=0", "optim.lr_generator=1e-3"]))
    assert task.consistency.measure == measure
    logs = _train(task, _batch(("a", "b")), steps=15)
    assert all(np.isfinite(row["consistency"]) for row in logs)
    assert logs[-1]["consistency"] < 0.5 * logs[0]["consistency"]


@pytest.mark.parametrize("config, extra, shape", [
    ("pix2pix_7t_9t4.yaml", ["stitch.stride=16"], (2, 1, 32, 32)),
    ("pix2pix_7t_9t4_dcgan.yaml", ["loss.gdl=1.0"], (2, 1, 32, 32)),
    ("pix2pix_7t_9t4_unet_dcgan.yaml", ["generator.sharpen=3x3", "stitch.mode=slices"], (2, 1, 32, 32)),
    ("dcsrn_7t_9t4.yaml", ["generator.kwargs={num_layers: 2}", "loss.l2=1.0"], (2, 1, 32, 32)),
    ("pix2pix_7t_9t4.yaml", ["data.patch=[16,16,16]", "generator.depth=2"], (2, 1, 16, 16, 16)),
])
def test_paired_recipes_train_with_finite_losses_and_the_right_shape(config, extra, shape):
    torch.manual_seed(0)
    task = Pix2PixTask(load_run_config(CONFIGS / config, [*SMALL, *extra]))
    batch = _batch(PAIRED, shape)
    logs = _train(task, batch)
    assert all(np.isfinite(value) for row in logs for value in row.values())
    assert logs[0]["l1"] > 0 and "loss_g" in logs[0]
    models = {name: module.eval() for name, module in task.modules().items()}
    assert task.translate(models["generator"], batch["input"]).shape == shape
    metrics = task.validation_step(batch, models)
    assert {"psnr_fg", "ssim_fg", "input_psnr_fg", "input_ssim_fg"} <= set(metrics)
    assert all(np.isfinite(value) for value in metrics.values())


@pytest.mark.parametrize("patch, shape", [("[32,32]", (2, 1, 32, 32)), ("[16,16,16]", (2, 1, 16, 16, 16))])
def test_paired_ssim_term_is_one_minus_the_ssim_of_the_output_against_the_target(patch, shape):
    from mrigan.losses import SSIMLoss

    torch.manual_seed(0)
    task = Pix2PixTask(load_run_config(CONFIGS / "dcsrn_7t_9t4.yaml", [
        *SMALL, f"data.patch={patch}", "generator.kwargs={num_layers: 2}", "loss.ssim=0.5", "optim.lr_generator=0"]))
    batch = _batch(PAIRED, shape)
    logs = _train(task, batch, steps=1)
    with torch.no_grad():  # lr 0: the weights the step used
        fake = task.generator(batch["input"])
        expected = SSIMLoss(data_range=1.0, spatial_dims=len(shape) - 2)(fake, batch["target"])
    assert logs[0]["ssim"] == pytest.approx(float(expected), rel=1e-4) and 0 < logs[0]["ssim"] < 2
    assert logs[0]["loss_g"] == pytest.approx(task.config.loss.l1 * logs[0]["l1"] + 0.5 * logs[0]["ssim"], rel=1e-4)


def test_sharpened_generator_round_trips_through_its_card(tmp_path):
    from mrigan.checkpoint import load_model, save_model

    config = load_run_config(CONFIGS / "pix2pix_7t_9t4.yaml", [*SMALL, "generator.sharpen=5x5"])
    generator = build_generator(config.generator).eval()
    card = save_model(generator, tmp_path, name="generator", task="translate", config={}, training={}, metrics={})
    loaded, _ = load_model(card)
    x = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(loaded(x), generator(x))
    flat = torch.full((1, 1, 8, 8), 0.3)
    padded = torch.nn.functional.pad(flat, (2, 2, 2, 2), mode="replicate")
    torch.testing.assert_close(torch.nn.functional.conv2d(padded, generator.kernel), flat)  # the kernel sums to 1


def test_image_pool_mixes_old_fakes_in_once_full():
    torch.manual_seed(0)
    pool = ImagePool(size=4)
    first = torch.zeros(4, 1, 2, 2)
    assert torch.equal(pool.query(first), first)
    returned = torch.cat([pool.query(torch.ones(4, 1, 2, 2)) for _ in range(5)])
    assert 0 < (returned.flatten(1)[:, 0] == 0).sum() < len(returned)  # some old ones, some new ones
    assert torch.equal(ImagePool(0).query(first), first)


def test_every_translation_config_builds_its_recipe():
    from mrigan.data.samples import SAMPLES

    names = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    assert {"cyclegan_t1_t2", "pix2pix_7t_9t4", "pix2pix_7t_9t4_dcgan", "pix2pix_7t_9t4_unet_dcgan", "dcsrn_7t_9t4",
            "pix2pix_t1_t2"} <= set(names)
    for name in names:
        config = load_run_config(CONFIGS / f"{name}.yaml", [])
        task = recipes()[config.task][1](config)
        # training anatomies only: no Colin27 at any resolution
        assert task.name == "translate" and set(config.data.samples) <= set(SAMPLES) - {"colin27", "colin27-hires"}


def test_colin27_cannot_be_trained_on_and_patches_must_fit_the_generator():
    from mrigan.tasks.translate import split_volumes

    with pytest.raises(UsageError, match="held-out"):
        split_volumes(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", ["data.samples=[mni152,colin27]"]))
    with pytest.raises(UsageError, match="multiple of 32"):
        CycleGANTask(load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", ["data.patch=[48,48]"]))


@pytest.mark.parametrize("config, exported", [
    ("cyclegan_t1_t2.yaml", ("generator", "generator_ba")),
    ("pix2pix_7t_9t4.yaml", ("generator",)),
])
def test_run_train_end_to_end_exports_translate_models(tmp_path, config, exported):
    from mrigan.checkpoint import load_model

    run_dir = run_train(CONFIGS / config, overrides=[*SMALL, *RUN], resume=None, out=tmp_path / "run")
    rows = (run_dir / "metrics" / "train.csv").read_text().splitlines()
    assert len(rows) == 3 and "loss_g" in rows[0]
    assert np.all(np.isfinite([float(v) for v in rows[-1].split(",")[2:]]))
    validation = (run_dir / "metrics" / "val.csv").read_text().splitlines()
    assert "ssim_fg" in validation[0].split(",")
    for name in exported:
        generator, card = load_model(run_dir / "final" / f"{name}.json")
        assert card["task"] == "translate" and card["source"] != card["target"]
        assert " -> " in card["translation"] and "colin27" in json.dumps(card["training"])
        assert generator(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    # resuming restores every generator's moving average, generator_ba's too (it has no optimizer of its name)
    run_train(None, overrides=["trainer.max_steps=3"], resume=run_dir, out=None)
    assert "has no EMA" not in (run_dir / "train.log").read_text()


def test_fine_tuning_takes_new_data_and_names_its_origin(tmp_path):
    from mrigan.checkpoint import load_model
    from mrigan.errors import InputError

    first = run_train(CONFIGS / "pix2pix_7t_9t4.yaml", overrides=[*SMALL, *RUN], resume=None, out=tmp_path / "a")
    tuned = run_train(CONFIGS / "pix2pix_7t_9t4.yaml", overrides=[*SMALL, *RUN, "data.samples=[mni152-gmm]"],
                      resume=None, out=tmp_path / "b", init_from=first)
    _, card = load_model(tuned / "final" / "generator.json")
    assert card["training"]["initialised_from"]["step"] == 2 and card["training"]["steps"] == 2
    assert card["training"]["data"]["samples"] == ["mni152-gmm"]
    with pytest.raises(UsageError, match="give one"):
        run_train(None, overrides=[], resume=first, out=None, init_from=first)
    with pytest.raises(InputError, match="no such run folder"):
        run_train(CONFIGS / "pix2pix_7t_9t4.yaml", overrides=[*SMALL, *RUN], resume=None, out=tmp_path / "c",
                  init_from=tmp_path / "missing")
    assert not (tmp_path / "c").exists()
