"""Regression: figshare `.mat` slices in a restoration folder are grouped by their patient (PID), not by file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrigan.data.subjects import split_subjects, subjects_from_folder


def _write_figshare_v73(path: Path, image: np.ndarray, *, label: int, pid: str) -> None:
    """A MATLAB v7.3 (HDF5, 512-byte user block) file in the figshare brain-tumour layout."""
    import h5py

    mask = image > np.percentile(image, 90)
    with h5py.File(path, "w", userblock_size=512) as mat:
        group = mat.create_group("cjdata")
        group.attrs["MATLAB_class"] = np.bytes_("struct")

        def put(name: str, value: np.ndarray, matlab_class: str) -> None:
            dataset = group.create_dataset(name, data=np.atleast_2d(value).T)  # MATLAB is column-major
            dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)

        put("image", image.astype(np.int16), "int16")
        put("label", np.array([[float(label)]]), "double")
        put("PID", np.array([[ord(c) for c in pid]], dtype=np.uint16), "char")
        put("tumorMask", mask.astype(np.uint8), "logical")
        put("tumorBorder", np.zeros((1, 4)), "double")
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: mrigan tests HDF5 schema 1.00 .".ljust(116))
        handle.write(b"\x00" * 8 + b"\x00\x02" + b"IM")


def test_figshare_slices_group_by_patient_id(tmp_path, mni_block):
    data, _ = mni_block
    patients = {"100360": 1, "MR040": 2, "112649": 3, "TCGA-02": 1}  # PID -> label
    for number, (pid, label) in enumerate(patients.items()):
        for k in range(3):  # three slices per patient, numbered as figshare numbers its files
            _write_figshare_v73(tmp_path / f"{3 * number + k + 1}.mat", data[..., 2 * k] * 10, label=label, pid=pid)
    subjects = subjects_from_folder(tmp_path)
    assert len(subjects) == 12
    assert sorted({s.subject_id for s in subjects}) == sorted(patients)
    for subject in subjects:
        assert subject.label == patients[subject.subject_id] - 1
    for seed in range(5):  # a patient's slices always land in one part of the split
        parts = split_subjects(subjects, (0.5, 0.25, 0.25), seed=seed)
        ids = [{s.subject_id for s in part} for part in parts]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
        assert sum(len(part) for part in parts) == 12
