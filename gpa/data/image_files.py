"""Reading image files for training and inference: every error names the file, nothing is silently degraded.

detectron2's `read_image` converts a 16-bit grayscale PNG with PIL's `convert("RGB")`, which saturates every
value above 255 to white, and lets PIL decode a header that declares 400 million pixels. Here 16-bit gray
is scaled to 8 bits, 32-bit modes (whose range is unknown) are refused, and an image over PIL's
decompression-bomb limit is refused before decoding.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from detectron2.data.detection_utils import convert_PIL_to_numpy, read_image
from PIL import Image, ImageOps

__all__ = ["SIXTEEN_BIT_GRAY_MODES", "UNSCALED_MODES", "check_image_pixels", "pil_to_rgb", "read_image_file"]

SIXTEEN_BIT_GRAY_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}  # PIL modes of 16-bit grayscale PNG / TIFF
UNSCALED_MODES = {"I": "32-bit integer", "F": "32-bit float"}  # no known range: refused rather than guessed
CHANNEL_ORDERS = {"RGB": lambda rgb: rgb, "BGR": lambda rgb: rgb[:, :, ::-1]}
PIL_READ_ERRORS = (OSError, ValueError, SyntaxError)  # PIL raises SyntaxError for some corrupt headers


def check_image_pixels(width: int, height: int, name: str) -> None:
    """Refuse an image whose header declares more pixels than PIL's decompression-bomb limit."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ValueError(f"image {name} declares {width}x{height} = {width * height} pixels, over the limit of "
                         f"{limit} (PIL.Image.MAX_IMAGE_PIXELS; decoding it could exhaust memory); resize it first, "
                         "or raise the limit if you trust the file")


def pil_to_rgb(image: Image.Image, name: str) -> np.ndarray:
    """HxWx3 uint8 RGB of a PIL image; 16-bit gray is scaled to 8 bits (converting it directly saturates it)."""
    check_image_pixels(image.width, image.height, name)
    if image.mode in UNSCALED_MODES:
        raise ValueError(f"image {name} has {UNSCALED_MODES[image.mode]} pixels (PIL mode {image.mode}), whose range "
                         "is unknown; convert it to 8-bit RGB or 16-bit grayscale first")
    if image.mode in SIXTEEN_BIT_GRAY_MODES:
        gray = np.asarray(image).astype(np.uint32)
        gray = ((gray * 255 + 32767) // 65535).astype(np.uint8)  # 0..65535 -> 0..255, rounded
        return np.repeat(gray[:, :, None], 3, axis=2)
    return convert_PIL_to_numpy(image, "RGB")


def read_image_file(path: str | Path, channel_order: str = "RGB") -> np.ndarray:
    """HxWx3 uint8 image in `channel_order` ("RGB" or "BGR") with the EXIF orientation applied, as detectron2's
    read_image returns it for 8-bit files; errors name the file."""
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel order {channel_order!r} is not supported (INPUT.FORMAT); valid: "
                         f"{sorted(CHANNEL_ORDERS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    try:
        with warnings.catch_warnings():  # PIL warns above MAX_IMAGE_PIXELS; check_image_pixels refuses instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                width, height, mode = image.width, image.height, image.mode
    except Image.DecompressionBombError as err:
        raise ValueError(f"image {path} is refused as a possible decompression bomb: {err}; resize it first") from err
    except PIL_READ_ERRORS as err:
        raise ValueError(f"cannot read image {path}: {err} (expected an image PIL can open: PNG, JPEG, ...)") from err
    check_image_pixels(width, height, str(path))
    if mode in UNSCALED_MODES:
        raise ValueError(f"image {path} has {UNSCALED_MODES[mode]} pixels (PIL mode {mode}), whose range is "
                         "unknown; convert it to 8-bit RGB or 16-bit grayscale first")
    try:
        if mode in SIXTEEN_BIT_GRAY_MODES:
            with Image.open(path) as image:
                return CHANNEL_ORDERS[channel_order](pil_to_rgb(ImageOps.exif_transpose(image), str(path)))
        return read_image(str(path), format=channel_order)  # EXIF orientation; converts L/LA/P/RGBA/CMYK
    except PIL_READ_ERRORS as err:
        raise ValueError(f"cannot read image {path}: {err} (expected an image PIL can open: PNG, JPEG, ...)") from err
