"""Registration on a real brain: known warps are undone, T2w finds T1w by mutual information, `mrigan register`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.data.samples import missing_reason
from mrigan.io.volume import Volume
from mrigan.preprocess.register import RegistrationSettings, refine_grid, register

pytestmark = pytest.mark.skipif(missing_reason("mni152") is not None, reason=str(missing_reason("mni152")))

FAST = RegistrationSettings(samples=5_000, affine_iterations=100, mesh_mm=60.0, deformable_iterations=10)
"""Few samples and iterations: enough for a 5 mm brain, quick on a busy CPU."""


@pytest.fixture(scope="module")
def brain() -> dict[str, Volume]:
    """MNI152 at 5 mm: the real T1 and a noise-free T2w simulated from its tissue maps, on one grid."""
    from mrigan.data.samples import load_sample
    from mrigan.physics import simulate_contrast
    from mrigan.preprocess import resample_to_spacing

    sample = load_sample("mni152")
    t2w, _, _ = simulate_contrast(sample.tissues, sample.t1.spacing, contrast="t2w", snr_at_3t=None)
    return {"t1": resample_to_spacing(sample.t1, 5.0),
            "t2": resample_to_spacing(sample.t1.with_data(t2w * 100.0), 5.0)}


def _warp(volume: Volume, *, rotation=(0.1, -0.08, 0.12), shift=(6.0, -5.0, 4.0), bending: float = 0.0) -> Volume:
    """`volume` moved by a known rotation (rad) and shift (mm) about its centre, then bent by a seeded B-spline."""
    import SimpleITK as sitk

    from mrigan.preprocess.geometry import _from_sitk, _to_sitk

    image = _to_sitk(volume)
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))
    rigid.SetRotation(*rotation)
    rigid.SetTranslation(shift)
    transform = rigid
    if bending:
        bspline = sitk.BSplineTransformInitializer(image, [3, 3, 3], order=3)
        bspline.SetParameters(tuple(np.random.default_rng(0).normal(0, bending, len(bspline.GetParameters()))))
        transform = sitk.CompositeTransform([rigid, bspline])
    return _from_sitk(sitk.Resample(image, image, transform, sitk.sitkBSpline, 0.0, sitk.sitkFloat32), volume)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_a_known_rotation_shift_and_warp_is_undone(brain):
    fixed = brain["t1"]
    moving = _warp(fixed, bending=4.0)
    affine_only, _ = register(moving, fixed, upsample=1, deformable=False, settings=FAST)
    registered, transform = register(moving, fixed, upsample=1, settings=FAST)
    assert registered.shape == fixed.shape and np.allclose(registered.affine, fixed.affine)
    before, after = 1 - _ncc(moving.data, fixed.data), 1 - _ncc(registered.data, fixed.data)
    assert after < before / 10, (before, after)  # 1 - NCC: ~0.1 before, ~0.002 after
    assert np.mean((registered.data - fixed.data) ** 2) < 0.1 * np.mean((moving.data - fixed.data) ** 2)
    assert after < 1 - _ncc(affine_only.data, fixed.data)  # the B-spline stage takes the bend out
    assert transform.GetName() == "CompositeTransform"
    record = registered.meta["registration"]
    assert record["deformable_metric"] < record["affine_metric"] < 0  # Mattes MI is negated: lower is better


def test_the_same_seed_gives_the_same_volume_on_the_refined_grid(brain):
    fixed = brain["t1"]
    moving = _warp(fixed)
    first, _ = register(moving, fixed, upsample=2, deformable=False, settings=FAST)
    second, _ = register(moving, fixed, upsample=2, deformable=False, settings=FAST)
    np.testing.assert_array_equal(first.data, second.data)
    refined = refine_grid(fixed, 2)
    assert first.shape == refined.shape == tuple(2 * n for n in fixed.shape)
    np.testing.assert_allclose(first.affine, refined.affine)
    # the same field of view: the grids' outer corners coincide
    corner = lambda v: v.affine[:3, :3] @ (np.array(v.shape) - 0.5) + v.affine[:3, 3]  # noqa: E731
    np.testing.assert_allclose(corner(first), corner(fixed), atol=1e-4)


def test_t2w_is_registered_onto_t1w_by_mutual_information(brain):
    fixed, t2_true = brain["t1"], brain["t2"]
    moving = _warp(t2_true, rotation=(0.05, 0.1, -0.08), shift=(-7.0, 4.0, 5.0))
    brain = (fixed.data > 0.2 * fixed.data.max()) & (t2_true.data > 0)
    assert _ncc(t2_true.data[brain], fixed.data[brain]) < 0  # inside the brain the contrasts anti-correlate
    registered, _ = register(moving, fixed, upsample=1, deformable=False, settings=FAST)
    before, after = 1 - _ncc(moving.data, t2_true.data), 1 - _ncc(registered.data, t2_true.data)
    assert after < before / 5, (before, after)


def test_bad_volumes_are_refused(brain):
    flat = brain["t1"].with_data(np.zeros(brain["t1"].shape))
    with pytest.raises(ValueError, match="fixed: every voxel has the same value"):
        register(brain["t1"], flat)
    with pytest.raises(ValueError, match="moving: registration needs a 3D volume"):
        register(Volume(np.ones((8, 8), np.float32)), brain["t1"])


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture()
def pair(tmp_path, brain):
    from mrigan import io

    fixed = io.write(brain["t1"], tmp_path / "in" / "fixed.nii.gz")
    moving = io.write(_warp(brain["t2"]), tmp_path / "in" / "moving.nii.gz")
    return moving, fixed


def _files(folder) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def test_cli_writes_the_registered_volume_its_transform_and_the_fixed_pair(tmp_path, pair, run_mrigan):
    import SimpleITK as sitk

    from mrigan import io

    moving, fixed = pair
    out = tmp_path / "out"
    result = run_mrigan("register", moving, fixed, "-o", out / "t2.nii.gz", "--no-deformable", "--upsample", "1",
                        "--clip", "0.1", "99.9", "--transform", out / "t2.tfm", "--fixed-out", out / "t1.nii.gz")
    assert result.returncode == 0, result.stderr
    assert _files(out) == {p.relative_to(tmp_path / "out") for p in
                           (out / "t2.nii.gz", out / "t2.nii.gz.json", out / "t2.tfm", out / "t1.nii.gz")}
    registered, target = io.read(out / "t2.nii.gz"), io.read(out / "t1.nii.gz")
    assert registered.shape == target.shape == io.read(fixed).shape
    record = json.loads((out / "t2.nii.gz.json").read_text())
    assert record["command"] == "register" and set(record["inputs"]) == {"moving", "fixed"}
    assert record["options"]["clip"] == [0.1, 99.9] and record["registration"]["deformable"] is False
    assert sitk.ReadTransform(str(out / "t2.tfm")).GetDimension() == 3


@pytest.mark.parametrize("case", ["missing", "2d", "over-input"])
def test_cli_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, pair, run_mrigan, case):
    from mrigan import io

    moving, fixed = pair
    output = tmp_path / "out" / "registered.nii.gz"
    if case == "missing":
        moving = tmp_path / "in" / "nope.nii.gz"
    elif case == "2d":
        fixed = io.write(Volume(np.random.default_rng(0).random((32, 32)).astype(np.float32) * 200),
                         tmp_path / "in" / "slice.png")
    else:
        output = moving
    before = _files(tmp_path)
    result = run_mrigan("register", moving, fixed, "-o", output, "--no-deformable")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mrigan: "), result.stderr
    expected = {"missing": "nope.nii.gz: no such file", "2d": "slice.png: a 2D image",
                "over-input": "refusing to overwrite an input"}[case]
    assert expected in lines[0]
    assert _files(tmp_path) == before
