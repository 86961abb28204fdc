"""Files for the checkpoint tests: malicious pickles that would create a marker file, and broken files."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch


class MarkerWriter:
    """Unpickling this object runs `touch marker` (what an attacker's file does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _pickle(path: Path, obj) -> Path:
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


# name -> function(folder, marker) writing a file that runs code when unpickled without restrictions
MALICIOUS_FILES = {
    "pkl top level": lambda d, m: _pickle(d / "evil.pkl", MarkerWriter(m)),
    "pkl inside the model zoo dict": lambda d, m: _pickle(
        d / "zoo.pkl", {"model": {"w": np.zeros(2), "x": MarkerWriter(m)}, "__author__": "someone"}),
    "pkl inside an object array": lambda d, m: _pickle(
        d / "objarray.pkl", {"model": {"w": np.array([MarkerWriter(m)], dtype=object)}}),
    "pth zip": lambda d, m: _torch_save(d / "evil.pth", {"model": {"w": torch.zeros(2)}, "x": MarkerWriter(m)}),
    "pth legacy format": lambda d, m: _torch_save(d / "legacy.pth", {"model": MarkerWriter(m)}, zip_format=False),
    "torch file named .pkl": lambda d, m: _torch_save(d / "renamed.pkl", {"model": MarkerWriter(m)}),
    "pt suffix": lambda d, m: _torch_save(d / "weights.pt", MarkerWriter(m)),
}


def _torch_save(path: Path, obj, zip_format: bool = True) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    return path


def _truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# name -> (function(folder, good_checkpoint) writing a broken file, a fragment the error must contain)
BROKEN_FILES = {
    "zero bytes": (lambda d, g: _write(d / "empty.pth", b""), "is empty (0 bytes)"),
    "text": (lambda d, g: _write(d / "lfs.pth", b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n"),
             "it holds text"),
    "truncated zip": (lambda d, g: _truncated(d / "half.pth", g), "truncated or corrupt"),
    "truncated legacy": (lambda d, g: _truncated(d / "half_legacy.pth", _legacy_copy(d, g)), "truncated or corrupt"),
    "truncated pkl": (lambda d, g: _truncated(d / "half.pkl", _pickle(d / "full.pkl", {"model": {
        "w": np.zeros((64, 64), np.float32)}})), "truncated, corrupt or not a pickle"),
    "truncated safetensors": (lambda d, g: _truncated(d / "half.safetensors", _safetensors(d)), "safetensors"),
    "a list": (lambda d, g: _torch_save(d / "list.pth", [torch.zeros(2)]), "holds a list, not a dict"),
    "model not a dict": (lambda d, g: _torch_save(d / "model_tensor.pth", {"model": torch.zeros(2)}),
                         "'model' entry is a Tensor"),
    "corrupt zip member": (lambda d, g: _corrupt_zip(d / "corrupt.pth", g), "cannot read checkpoint"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _legacy_copy(folder: Path, good: Path) -> Path:
    return _torch_save(folder / "legacy_full.pth", torch.load(good, weights_only=True), zip_format=False)


def _safetensors(folder: Path) -> Path:
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(64, 64)}, str(folder / "full.safetensors"))
    return folder / "full.safetensors"


def _corrupt_zip(path: Path, good: Path) -> Path:
    with zipfile.ZipFile(good) as archive:
        names = archive.namelist()
    data = bytearray(good.read_bytes())
    start = data.find(names[-1].encode()) + 200  # inside the stored data of a member
    data[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return path
