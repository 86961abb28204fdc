"""The toy dataset's cache folder: generated on first use, reused while its fingerprint matches.

The cache lives in `$GPA_CACHE/toy` (default `~/.cache/gpa/toy`). A folder is complete when its marker file
holds the fingerprint of the generator (its version, the source of the files that draw the world) and of
the split sizes and seeds; otherwise it is generated again. Generation writes into a temporary sibling
folder and renames it into place, so concurrent processes never see a half-written dataset.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from .generate import generate_toy_split
from .world import SEEN_THINGS, THING_CLASSES

__all__ = [
    "CACHE_ENV",
    "DEFAULT_SPLITS",
    "GENERATOR_VERSION",
    "MARKER_FILE",
    "ToySplit",
    "default_toy_root",
    "ensure_toy_dataset",
    "toy_fingerprint",
]

CACHE_ENV = "GPA_CACHE"  # root of gpa's generated data; the toy dataset goes to $GPA_CACHE/toy
GENERATOR_VERSION = 1  # bump when the meaning of the parameters changes
MARKER_FILE = "toy_dataset.json"
_PACKAGE = Path(__file__).resolve().parent
_SOURCES = ("world.py", "render.py", "generate.py")  # the code whose output lands on disk


@dataclass(frozen=True)
class ToySplit:
    """Size and seed of one split; `include_unseen` False means only seen combinations are ever drawn."""

    num_images: int
    image_size: int
    seed: int
    include_unseen: bool


DEFAULT_SPLITS: dict[str, ToySplit] = {
    "train": ToySplit(num_images=1600, image_size=96, seed=1, include_unseen=False),
    "val": ToySplit(num_images=200, image_size=96, seed=2, include_unseen=True),
}


def default_toy_root() -> Path:
    """`$GPA_CACHE/toy`, or `~/.cache/gpa/toy` when GPA_CACHE is unset."""
    base = os.environ.get(CACHE_ENV)
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "gpa") / "toy"


def toy_fingerprint(splits: Mapping[str, ToySplit]) -> str:
    """sha256 over the generator version, its source files and the split parameters."""
    digest = hashlib.sha256()
    digest.update(f"version {GENERATOR_VERSION}\n".encode())
    for name in _SOURCES:
        digest.update(name.encode() + b"\n" + (_PACKAGE / name).read_bytes())
    digest.update(json.dumps({k: asdict(v) for k, v in sorted(splits.items())}, sort_keys=True).encode())
    return digest.hexdigest()


def _marker(root: Path) -> dict | None:
    path = root / MARKER_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}  # a damaged marker: ours, but not complete


def _is_complete(root: Path, fingerprint: str) -> bool:
    marker = _marker(root)
    return marker is not None and marker.get("fingerprint") == fingerprint


def _generate(folder: Path, splits: Mapping[str, ToySplit], fingerprint: str) -> None:
    for split, spec in splits.items():
        things = THING_CLASSES if spec.include_unseen else SEEN_THINGS
        generate_toy_split(folder, split, spec.num_images, spec.image_size, spec.seed, things)
    marker = {"fingerprint": fingerprint, "generator_version": GENERATOR_VERSION,
              "splits": {k: asdict(v) for k, v in splits.items()}}
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=1), encoding="utf-8")  # written last


def ensure_toy_dataset(root: str | Path | None = None, splits: Mapping[str, ToySplit] | None = None) -> Path:
    """The toy dataset folder (default `default_toy_root()`), generated first if missing or out of date.

    A stale folder (a marker with another fingerprint) is replaced. A folder that exists without a marker is
    not ours and is never touched: that is an error.
    """
    root = Path(root).expanduser() if root is not None else default_toy_root()
    splits = dict(DEFAULT_SPLITS if splits is None else splits)
    if not splits:
        raise ValueError("ensure_toy_dataset needs at least one split")
    fingerprint = toy_fingerprint(splits)
    if _is_complete(root, fingerprint):
        return root
    if root.exists() and _marker(root) is None and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(
            f"{root} exists but holds no toy dataset (no {MARKER_FILE}); remove it, or point ${CACHE_ENV} "
            "elsewhere"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fresh = root.parent / f".{root.name}.tmp-{tag}"
    try:
        _generate(fresh, splits, fingerprint)
        _move_into_place(fresh, root, fingerprint, tag)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)
    return root


def _move_into_place(fresh: Path, root: Path, fingerprint: str, tag: str) -> None:
    """Rename `fresh` to `root`; an up-to-date `root` written meanwhile by another process wins."""
    for _ in range(3):
        if _is_complete(root, fingerprint):
            return
        if root.exists():  # stale (or an empty folder): move it aside, then delete it
            stale = root.parent / f".{root.name}.stale-{tag}"
            try:
                root.rename(stale)
            except FileNotFoundError:  # another process moved it first
                pass
            else:
                shutil.rmtree(stale)
        try:
            fresh.rename(root)
            return
        except OSError:  # another process renamed its copy into place first; check it on the next turn
            continue
    raise RuntimeError(f"could not move the generated toy dataset into {root}; other processes keep replacing it")
