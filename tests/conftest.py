"""Shared fixtures: small pieces of real scans, and a way to run the real `mrigan` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MRICRON = Path("/usr/share/mricron/templates")

MRICRON_MISSING = "Debian package mricron-data not installed (Colin27 / inia19 missing): `make data` installs it"


def pytest_configure(config):
    config.addinivalue_line("markers", "mricron: needs Colin27 / inia19 from Debian's mricron-data")


def pytest_collection_modifyitems(config, items):
    """Tests marked `mricron` are skipped, with the reason, where mricron-data is not installed."""
    if (MRICRON / "ch2.nii.gz").exists():
        return
    for item in items:
        if "mricron" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=MRICRON_MISSING))


@pytest.fixture(scope="session")
def mni_block() -> tuple[np.ndarray, np.ndarray]:
    """A small real block of the MNI152 T1 (float32, [0, 255]) and its affine, cropped around the centre."""
    import nibabel as nib
    import nilearn.datasets

    path = Path(nilearn.datasets.__file__).parent / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    image = nib.load(path)
    data = np.asarray(image.dataobj, dtype=np.float32)
    start = np.array([70, 80, 88])
    block = data[70:134, 80:144, 88:96]
    affine = image.affine.copy()
    affine[:3, 3] = image.affine[:3, :3] @ start + image.affine[:3, 3]
    return block, affine


@pytest.fixture()
def mni_nifti(tmp_path, mni_block) -> Path:
    """The real MNI152 block written as a NIfTI file in a temporary folder."""
    import nibabel as nib

    data, affine = mni_block
    path = tmp_path / "mni_block.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


def mrigan_command() -> list[str]:
    """The installed console script (the real entry point), or the module as a fallback."""
    script = Path(sys.executable).parent / "mrigan"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mrigan.cli"]


@pytest.fixture()
def run_mrigan():
    """Run `mrigan ARGS...` in a subprocess; returns the CompletedProcess (text mode)."""

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "COLUMNS": "120"}
        return subprocess.run(
            [*mrigan_command(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
        )

    return run


@pytest.fixture(scope="session")
def tiny_restore_model(tmp_path_factory) -> Path:
    """Card of a tiny UMR-GAN-conditioned U-Net with MC dropout, saved as a real model card + safetensors."""
    from dataclasses import asdict

    import torch

    from mrigan.checkpoint import save_model
    from mrigan.data.restoration import Conditioning
    from mrigan.nn import UNetGenerator

    torch.manual_seed(0)
    conditioning = Conditioning()
    generator = UNetGenerator(in_channels=conditioning.channels, depth=2, base_channels=4, max_channels=8,
                              residual_blocks=1, dropout=0.2)
    return save_model(
        generator, tmp_path_factory.mktemp("model") / "tiny", name="tiny-restore", task="restore",
        config={"conditioning": asdict(conditioning), "data": {"samples": ["mni152"]}},
        training={"steps": 0}, metrics={"heldout": {"psnr": 31.5}},
    )


@pytest.fixture()
def seeded_single_thread_torch():
    """Same random state in every test, one intra-op thread (tiny tensors; a busy 2-core machine).

    Test folders that want it for every test make it autouse in their conftest; single files use
    `pytestmark = pytest.mark.usefixtures("seeded_single_thread_torch")`.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
