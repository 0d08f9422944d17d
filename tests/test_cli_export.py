"""`mrigan export` through the real entry point: packs of real enhanced outputs and of a tiny real training run.

The first pack runs the console script in a subprocess; the others run `mrigan.cli.main` in-process (the code the
console script calls), which keeps this file fast.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "umr_gan.yaml"
TINY_RUN = [
    "data.samples=[mni152]", "data.crop=32", "data.batch_size=2", "data.validation_slices=2",
    "generator.depth=3", "generator.base_channels=4", "generator.residual_blocks=1",
    "discriminator.base_channels=4", "discriminator.n_layers=2", "loss.perceptual=0", "loss.ssim_warmup_steps=1",
    "trainer.max_steps=4", "trainer.log_every=1", "trainer.val_every=2", "trainer.checkpoint_every=2",
    "trainer.device=cpu", "trainer.num_threads=1", "trainer.figures=true",
]


def run_in_process(*args, capsys) -> tuple[int, str, str]:
    from mrigan.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def enhanced_png(tmp_path_factory, mni_block, one_thread) -> dict[str, Path]:
    """A real MNI152 slice (8-bit PNG) restored by the shipped `umr-gan-small`, with a TTA uncertainty map."""
    from PIL import Image

    from mrigan.cli import main

    folder = tmp_path_factory.mktemp("enhanced_png")
    data, _ = mni_block
    scan = folder / "slice.png"
    Image.fromarray(np.clip(data[..., 4], 0, 255).astype(np.uint8)).save(scan)
    output = folder / "restored.png"
    assert main(["enhance", str(scan), "-m", "umr-gan-small", "-o", str(output), "--uncertainty", "tta",
                 "--samples", "2", "--device", "cpu"]) == 0
    return {"input": scan, "output": output, "sidecar": folder / "restored.png.json",
            "uncertainty": folder / "restored_uncertainty.tif"}


@pytest.fixture(scope="module")
def enhanced_volume(tmp_path_factory, mni_block, tiny_restore_model, one_thread) -> dict[str, Path]:
    """A real MNI152 block (NIfTI) restored by the tiny model of tests/conftest.py, without uncertainty."""
    import nibabel as nib

    from mrigan.cli import main

    folder = tmp_path_factory.mktemp("enhanced_volume")
    data, affine = mni_block
    scan = folder / "block.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), scan)
    output = folder / "restored.nii.gz"
    assert main(["enhance", str(scan), "-m", str(tiny_restore_model), "-o", str(output), "--device", "cpu"]) == 0
    return {"input": scan, "output": output, "sidecar": folder / "restored.nii.gz.json"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, one_thread) -> Path:
    """A 4-step UMR-GAN run on real MNI152 slices: validations (and best/ exports) at steps 2 and 4, figures on."""
    from mrigan.training import run_train

    return run_train(CONFIG, overrides=TINY_RUN, resume=None, out=tmp_path_factory.mktemp("runs") / "tiny")


def _snapshot(*paths: Path) -> dict[str, str]:
    """sha256 of every file under `paths` (to show the source is never modified)."""
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _open_pack(pack: Path) -> tuple[str, dict[str, bytes], dict]:
    """(top folder, {path inside the top folder: bytes}, manifest)."""
    with zipfile.ZipFile(pack) as archive:
        names = archive.namelist()
        tops = {name.split("/", 1)[0] for name in names}
        assert len(tops) == 1, names
        top = tops.pop()
        members = {name.split("/", 1)[1]: archive.read(name) for name in names}
    return top, members, json.loads(members["manifest.json"])


def _assert_manifest_matches(members: dict[str, bytes], manifest: dict) -> None:
    import mrigan

    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(members) - {"manifest.json"}
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(members[path]).hexdigest(), path
        assert entry["bytes"] == len(members[path]) and entry["what"]
    assert manifest["mrigan_version"] == mrigan.__version__ and manifest["created_utc"]
    assert manifest["format"] == "mrigan-export/1" and manifest["notice"] == mrigan.RESEARCH_NOTICE
    readme = members["README.md"].decode()
    assert mrigan.RESEARCH_NOTICE in readme
    assert all(entry["sha256"] in readme for path, entry in listed.items() if path != "README.md")


def _png_shape(data: bytes) -> tuple[int, ...]:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(data))).shape


def test_pack_of_an_enhanced_png_holds_output_provenance_uncertainty_and_previews(run_mrigan, enhanced_png,
                                                                                   tmp_path):
    before = _snapshot(enhanced_png["output"].parent)
    pack = tmp_path / "png-pack.zip"
    result = run_mrigan("export", enhanced_png["output"], "-o", pack)
    assert result.returncode == 0, result.stderr
    assert str(pack) in result.stdout

    top, members, manifest = _open_pack(pack)
    assert top == "png-pack"
    assert set(members) == {
        "output/restored.png", "output/restored_uncertainty.tif", "provenance.json", "previews/output.png",
        "previews/uncertainty.png", "README.md", "manifest.json",
    }
    _assert_manifest_matches(members, manifest)
    assert members["output/restored.png"] == enhanced_png["output"].read_bytes()
    assert members["output/restored_uncertainty.tif"] == enhanced_png["uncertainty"].read_bytes()
    assert members["provenance.json"] == enhanced_png["sidecar"].read_bytes()
    provenance = json.loads(members["provenance.json"])
    assert provenance["model"]["name"] == "umr-gan-small"
    assert manifest["kind"] == "enhanced output"
    assert manifest["source"]["model"]["sha256"] == provenance["model"]["sha256"]
    assert manifest["source"]["input_sha256"] == provenance["inputs"]["input"]["sha256"]
    assert manifest["source"]["input_checked"] is False
    assert _png_shape(members["previews/output.png"])[:2] == (256, 256)  # 64 px enlarged 4x for viewing
    assert _png_shape(members["previews/uncertainty.png"]) == (256, 256, 3)
    assert _snapshot(enhanced_png["output"].parent) == before  # the source is only read


def test_pack_of_an_enhanced_volume_with_its_input_has_three_planes_and_the_difference_figure(
    enhanced_volume, tmp_path, capsys
):
    pack = tmp_path / "volume.zip"
    code, out, err = run_in_process("export", enhanced_volume["output"], "-o", pack, "--input",
                                    enhanced_volume["input"], capsys=capsys)
    assert code == 0, err
    _, members, manifest = _open_pack(pack)
    planes = ("sagittal", "coronal", "axial")  # MNI152 is RAS: axis 0 cuts sagittal planes, axis 2 axial ones
    assert set(members) == {
        "output/restored.nii.gz", "provenance.json", "figures/input_output_difference.png", "README.md",
        "manifest.json", *(f"previews/{kind}_{plane}.png" for kind in ("output", "input") for plane in planes),
    }
    _assert_manifest_matches(members, manifest)
    assert members["provenance.json"] == enhanced_volume["sidecar"].read_bytes()
    assert manifest["source"]["input_checked"] is True and manifest["source"]["input"] == "block.nii.gz"
    assert manifest["previews"]["slices"] == {"sagittal": 32, "coronal": 32, "axial": 4}
    # the 64 x 8 sagittal plane of 1 mm voxels stays 8:1 wide once enlarged
    assert _png_shape(members["previews/output_sagittal.png"]) == (32, 256)
    assert "input_output_difference.png" in members["README.md"].decode()


def test_pack_of_a_run_is_a_model_card_with_the_best_model_and_no_checkpoints(run_dir, tmp_path, capsys):
    import csv

    before = _snapshot(run_dir)
    assert list((run_dir / "checkpoints").glob("*.pt"))  # there are checkpoints to leave out
    pack = tmp_path / "run.zip"
    code, out, err = run_in_process("export", run_dir, "-o", pack, capsys=capsys)
    assert code == 0, err
    _, members, manifest = _open_pack(pack)

    rows = list(csv.DictReader((run_dir / "metrics" / "val.csv").open()))
    best_step = int(max(rows, key=lambda row: float(row["ssim"]))["step"])  # configs/umr_gan.yaml: ssim, max
    assert set(members) == {
        "model/generator.safetensors", "model/generator.json", "config.yaml", "metrics/train.csv",
        "metrics/val.csv", "figures/loss_curves.png", f"figures/val_step_{best_step:07d}.png",
        "figures/val_step_0000004.png", "MODEL_CARD.md", "README.md", "manifest.json",
    }
    assert not any(name.endswith(".pt") for name in members)
    _assert_manifest_matches(members, manifest)
    card = json.loads(members["model/generator.json"])
    assert card == json.loads((run_dir / "best" / "generator.json").read_text())
    assert card["training"]["steps"] == best_step
    weights_sha = hashlib.sha256(members["model/generator.safetensors"]).hexdigest()
    assert weights_sha == card["sha256"]
    assert members["config.yaml"] == (run_dir / "config.yaml").read_bytes()

    model_card = members["MODEL_CARD.md"].decode()
    assert f"at step {best_step}" in model_card and "best validation ssim" in model_card
    assert weights_sha in model_card and "mrigan.nn.unet.UNetGenerator" in model_card
    assert "| task | `restore`" in model_card and "4 steps" in model_card and "mni152" in model_card
    assert manifest["kind"] == "training run" and manifest["source"]["best_step"] == best_step
    left_out = {entry["path"]: entry for entry in manifest["left_out"]}
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert sorted(left_out["checkpoints/*.pt"]["files"]) == checkpoints
    assert "never packed" in left_out["checkpoints/*.pt"]["why"]
    assert "checkpoints/*.pt" in members["README.md"].decode()
    assert _snapshot(run_dir) == before


def test_overwrite_replaces_a_pack(enhanced_png, tmp_path, capsys):
    pack = tmp_path / "pack.zip"
    pack.write_bytes(b"old")
    code, _, err = run_in_process("export", enhanced_png["output"], "-o", pack, "--overwrite", capsys=capsys)
    assert code == 0, err
    assert zipfile.is_zipfile(pack)


def _bad_case(case: str, enhanced_png: dict[str, Path], run_dir: Path, tmp_path: Path) -> tuple[list, Path, str]:
    """(arguments, the pack they name, the file the error line must name) of one kind of bad input."""
    pack = tmp_path / "pack.zip"
    output = enhanced_png["output"]
    if case == "missing":
        missing = tmp_path / "nothing.nii.gz"
        return [missing, "-o", pack], pack, missing.name
    if case == "no sidecar":
        return [enhanced_png["input"], "-o", pack], pack, "slice.png.json"
    if case == "neither run nor output":
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "notes.txt").write_text("hello\n")
        return [folder, "-o", pack], pack, "folder"
    if case == "sidecar of another command":
        copy = tmp_path / "noisy.png"
        shutil.copy(output, copy)
        (tmp_path / "noisy.png.json").write_text(json.dumps({"command": "degrade"}))
        return [copy, "-o", pack], pack, "noisy.png.json"
    if case == "pack exists":
        pack.write_bytes(b"keep me")
        return [output, "-o", pack], pack, "pack.zip"
    if case == "pack is the output":
        return [output, "-o", output], output, output.name
    if case == "not a zip":
        return [output, "-o", tmp_path / "pack.tar"], tmp_path / "pack.tar", "pack.tar"
    if case == "wrong input":
        return [output, "-o", pack, "--input", output], pack, output.name
    if case == "pack inside the run":
        return [run_dir, "-o", run_dir / "pack.zip"], run_dir / "pack.zip", "pack.zip"
    if case == "input with a run":
        return [run_dir, "-o", pack, "--input", enhanced_png["input"]], pack, run_dir.name
    if case == "tampered weights":
        copy = tmp_path / "run"
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "tb"))
        weights = copy / "best" / "generator.safetensors"
        raw = bytearray(weights.read_bytes())
        raw[-1] ^= 0xFF
        weights.write_bytes(bytes(raw))
        return [copy, "-o", pack], pack, "generator.safetensors"
    raise AssertionError(case)


@pytest.mark.parametrize("case, kind", [
    ("missing", "input error"), ("no sidecar", "input error"), ("neither run nor output", "input error"),
    ("sidecar of another command", "input error"), ("pack exists", "output error"),
    ("pack is the output", "output error"), ("not a zip", "output error"), ("wrong input", "input error"),
    ("pack inside the run", "output error"), ("input with a run", "usage error"), ("tampered weights", "input error"),
])
def test_bad_input_is_one_line_exit_2_and_no_pack(enhanced_png, run_dir, tmp_path, capsys, case, kind):
    args, pack, named = _bad_case(case, enhanced_png, run_dir, tmp_path)
    before = pack.read_bytes() if pack.exists() else None
    sources = _snapshot(enhanced_png["output"].parent, run_dir)
    code, out, err = run_in_process("export", *args, capsys=capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mrigan: {kind}:") and named in lines[0], lines[0]
    assert "Traceback" not in err
    assert (pack.read_bytes() if pack.exists() else None) == before  # nothing written, nothing replaced
    assert not [p for p in pack.parent.iterdir() if p.name.startswith(".") and ".tmp" in p.name]  # no leftovers
    assert _snapshot(enhanced_png["output"].parent, run_dir) == sources


def test_help_names_both_kinds_of_source(capsys):
    code, out, _ = run_in_process("export", "--help", capsys=capsys)
    assert code == 0
    assert "OUTPUT_OR_RUN_DIR" in out and "--input" in out and "MODEL_CARD.md" in out
