"""Images for inference: reading any user input as RGB, resizing it like detectron2's DefaultPredictor,
finding image files from paths, folders and globs, and a Dataset that does the reading in DataLoader workers.
"""
from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import transforms as T
from PIL import Image

from gpa.data.image_files import pil_to_rgb, read_image_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "INPUT_FORMATS",
    "ImageFiles",
    "ImageInput",
    "ImagePreprocessor",
    "collect_image_paths",
    "load_image",
]

ImageInput = str | Path | Image.Image | np.ndarray
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
GLOB_CHARACTERS = "*?["


def _read_file(path: str | Path) -> np.ndarray:
    return read_image_file(path, "RGB")


def _from_pil(image: Image.Image) -> np.ndarray:
    return pil_to_rgb(image, "given as a PIL image")


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.dtype != np.uint8:
        raise TypeError(f"an image array must be uint8 with values 0..255, got dtype {array.dtype}; "
                        "scale it and convert with .astype(np.uint8)")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"an image array must be HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA), got shape {array.shape}")
    return np.asarray(Image.fromarray(array).convert("RGB"))  # gray -> RGB, RGBA -> RGB (alpha dropped)


_READERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], np.ndarray]], ...] = (
    ((str, Path), _read_file),
    (Image.Image, _from_pil),
    (np.ndarray, _from_array),
)


def load_image(image: ImageInput) -> np.ndarray:
    """An HxWx3 uint8 RGB array from a path, a PIL image or an array (RGB order; gray and RGBA are converted)."""
    for types, reader in _READERS:
        if isinstance(image, types):
            return reader(image)
    raise TypeError(
        f"cannot read an image from a {type(image).__name__}; give a file path, a PIL image or an HxWx3 uint8 array"
    )


INPUT_FORMATS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "RGB": lambda rgb: rgb,
    "BGR": lambda rgb: rgb[:, :, ::-1],
}


class ImagePreprocessor:
    """RGB array -> a model input: shortest edge resized to `min_size` (longest at most `max_size`), channels
    in the model's format, as float CHW; "height"/"width" keep the original size, so outputs come back in it."""

    def __init__(self, min_size: int, max_size: int, input_format: str = "RGB") -> None:
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"INPUT.FORMAT {input_format!r} is not supported; valid: {sorted(INPUT_FORMATS)}")
        if min_size <= 0 or max_size < min_size:
            raise ValueError(f"INPUT.MIN_SIZE_TEST ({min_size}) must be > 0 and <= INPUT.MAX_SIZE_TEST ({max_size})")
        self.resize = T.ResizeShortestEdge([min_size, min_size], max_size)
        self.input_format = input_format

    @classmethod
    def from_config(cls, cfg: CfgNode) -> ImagePreprocessor:
        return cls(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, cfg.INPUT.FORMAT)

    def __call__(self, rgb: np.ndarray) -> dict[str, Any]:
        height, width = rgb.shape[:2]
        if min(height, width) < 1:
            raise ValueError(f"the image is empty ({width}x{height} pixels)")
        short, long = self.resize.short_edge_length[0], self.resize.max_size
        new_height, new_width = T.ResizeShortestEdge.get_output_shape(height, width, short, long)
        if min(new_height, new_width) < 1:
            raise ValueError(f"an image of {width}x{height} pixels cannot be resized for the model (short side to "
                             f"{short}, long side at most {long}: it would be {new_width}x{new_height}); crop it to a "
                             "less elongated shape")
        image = INPUT_FORMATS[self.input_format](rgb)
        image = self.resize.get_transform(image).apply_image(np.ascontiguousarray(image))
        tensor = torch.as_tensor(image.astype("float32").transpose(2, 0, 1))
        return {"image": tensor, "height": height, "width": width}


class ImageFiles(torch.utils.data.Dataset):
    """Image files read and preprocessed (in DataLoader workers): the model input plus "file_name" and
    "original" (the RGB image at its own size, for drawing)."""

    def __init__(self, paths: Sequence[str | Path], preprocessor: ImagePreprocessor) -> None:
        self.paths = [Path(p) for p in paths]
        self.preprocessor = preprocessor

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rgb = load_image(self.paths[index])
        try:
            inputs = self.preprocessor(rgb)
        except ValueError as err:
            raise ValueError(f"image {self.paths[index]}: {err}") from err
        return {**inputs, "file_name": str(self.paths[index]), "original": rgb}


def _folder_images(folder: Path) -> list[Path]:
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise FileNotFoundError(f"folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def _glob_images(pattern: str) -> list[Path]:
    matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not matches:
        raise FileNotFoundError(f"the pattern {pattern!r} matches no file")
    return matches


def collect_image_paths(inputs: Sequence[str | Path]) -> list[Path]:
    """Image paths from files, folders (their images, not recursive) and glob patterns, in the given order.

    Anything that is neither an existing path nor a pattern matching files is an error; a file named twice
    is kept once.
    """
    if not inputs:
        raise ValueError("no input images given")
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            paths.extend(_folder_images(path))
        elif path.is_file():
            paths.append(path)
        elif any(c in str(item) for c in GLOB_CHARACTERS):
            paths.extend(_glob_images(str(item)))
        else:
            raise FileNotFoundError(f"input {str(item)!r} is neither a file, a folder nor a pattern matching files")
    unique: dict[Path, None] = {}
    for path in paths:
        unique.setdefault(path.resolve(), None)
    return list(unique)
