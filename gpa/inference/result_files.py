"""Writing a result as files: a visualization PNG, the task's map as PNG, and a JSON of the segments.

The segmentation PNG holds `PredictionResult.segmentation`:
- panoptic / instance: segment ids in COCO panoptic's RGB encoding, id = R + 256 G + 256^2 B (panopticapi's
  id2rgb; read back with panopticapi.utils.rgb2id), 0 = no segment; the JSON's segment ids are these ids;
- semantic: class ids as gray values, 8-bit for up to 256 classes, else 16-bit; the JSON's ids are class ids.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from detectron2.data import Metadata
from panopticapi.utils import id2rgb
from PIL import Image

from .result import PredictionResult
from .visualization import draw_result

__all__ = ["PNG_ENCODINGS", "output_paths", "save_outputs", "segmentation_image", "segments_record"]

ID_ENCODING = "segment ids as RGB: id = R + 256*G + 256^2*B (panopticapi id2rgb); 0 = no segment"


def _label_image(label_map: np.ndarray, num_classes: int) -> Image.Image:
    for dtype in (np.uint8, np.uint16):
        if num_classes <= np.iinfo(dtype).max + 1:
            return Image.fromarray(label_map.astype(dtype))
    raise ValueError(f"{num_classes} classes do not fit a 16-bit PNG label map")


PNG_ENCODINGS: dict[str, tuple[str, Callable[[PredictionResult], Image.Image]]] = {
    "panoptic": (ID_ENCODING, lambda r: Image.fromarray(id2rgb(r.panoptic_map))),
    "instance": (ID_ENCODING + "; overlaps show the best-scoring instance",
                 lambda r: Image.fromarray(id2rgb(r.instance_map))),
    "semantic": ("class ids as gray values (8-bit up to 256 classes, else 16-bit)",
                 lambda r: _label_image(r.semantic_map, len(r.vocabulary))),
}


def segmentation_image(result: PredictionResult) -> Image.Image:
    """The task's map as a PNG-ready image (encodings in the module doc)."""
    return PNG_ENCODINGS[result.task][1](result)


def segments_record(result: PredictionResult, image: str, segmentation_file: str) -> dict[str, Any]:
    """The JSON record of a result: image, task, size, classes, PNG file and encoding, segments."""
    height, width = result.image_size
    return {
        "image": image,
        "task": result.task,
        "height": height,
        "width": width,
        "classes": result.vocabulary.strings,
        "segmentation_png": segmentation_file,
        "png_encoding": PNG_ENCODINGS[result.task][0],
        "segments": [s.to_dict() for s in result.segments],
    }


def output_paths(output_dir: str | Path, stem: str, task: str) -> dict[str, Path]:
    """Where `save_outputs` writes the files of the image named `stem`."""
    output_dir = Path(output_dir)
    return {
        "visualization": output_dir / f"{stem}_visualization.png",
        "segmentation": output_dir / f"{stem}_{task}.png",
        "segments": output_dir / f"{stem}_segments.json",
    }


def save_outputs(
    result: PredictionResult,
    image_rgb: np.ndarray,
    output_dir: str | Path,
    stem: str,
    image_name: str = "",
    metadata: Metadata | None = None,
    visualization_scale: float = 1.0,
) -> dict[str, Path]:
    """Write the visualization (the image's size times `visualization_scale`), the segmentation PNG and the
    segments JSON (both at the image's size) of one image; returns their paths."""
    paths = output_paths(output_dir, stem, result.task)
    paths["segments"].parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_result(image_rgb, result, metadata, visualization_scale)).save(paths["visualization"])
    segmentation_image(result).save(paths["segmentation"])
    record = segments_record(result, image_name or stem, paths["segmentation"].name)
    paths["segments"].write_text(json.dumps(record, indent=1), encoding="utf-8")
    return paths
