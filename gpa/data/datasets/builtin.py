"""The builtin benchmarks: one table, registered under $DETECTRON2_DATASETS by the generic functions.

Folders follow the layouts Mask2Former and FC-CLIP made standard (datasets/README.md), so data prepared
for them is used as is. Registration reads nothing; files are read when a dataset is first used.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gpa.vocabulary import DatasetClasses

from . import class_sources as cs
from .loaders import ImageEntry
from .register import register_coco_panoptic_format, register_semantic_format

__all__ = ["BUILTIN_DATASETS", "BuiltinDataset", "builtin_dataset", "datasets_root", "register_builtin_datasets"]

ClassesFn = Callable[[Path, str], DatasetClasses]  # (datasets root, dataset name) -> classes


@dataclass(frozen=True)
class BuiltinDataset:
    """One registered dataset: its folders (relative to the datasets root) and where its classes come from."""

    name: str
    benchmark: str  # the benchmark of the paper's tables this dataset evaluates
    format: str  # a key of FORMATS
    folders: Mapping[str, str]  # role (image_root, sem_seg_root, panoptic_root, ...) -> relative path
    classes: ClassesFn
    evaluator_type: str
    ignore_label: int = 255
    layout: str = "flat"  # a key of LAYOUTS (panoptic format only)
    label_ext: str = ".png"
    made_by: Mapping[str, str] = field(default_factory=dict)  # role -> what creates it


# createPanopticImgs names images "<id>_gtFine_leftImg8bit.png" in its JSON; the real file is
# "<city>/<id>_leftImg8bit.png", so Cityscapes paths are built from the image id ("<city>_<seq>_<frame>").
def _cityscapes_image(entry: ImageEntry) -> str:
    return f"{entry['id'].split('_')[0]}/{entry['id']}_leftImg8bit.png"


def _cityscapes_sem_seg(entry: ImageEntry) -> str:
    return f"{entry['id'].split('_')[0]}/{entry['id']}_gtFine_labelTrainIds.png"


# Where an image entry of a panoptic JSON keeps its image and semantic label, relative to their roots.
LAYOUTS: dict[str, dict[str, Callable[[ImageEntry], str]]] = {
    "flat": {},
    "cityscapes": {"image_path": _cityscapes_image, "sem_seg_path": _cityscapes_sem_seg},
}

ADE = "ADEChallengeData2016"
ADE_FULL = "ADE20K_2021_17_01"
PREP = "run `python datasets/{}`"


def _coco(split: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_coco_panoptic_{split}",
        benchmark="COCO panoptic (training set; PQ / AP / mIoU)",
        format="coco_panoptic",
        folders={
            "image_root": f"coco/{split}2017",
            "panoptic_root": f"coco/panoptic_{split}2017",
            "panoptic_json": f"coco/annotations/panoptic_{split}2017.json",
            "sem_seg_root": f"coco/panoptic_semseg_{split}2017",
            "instances_json": f"coco/annotations/instances_{split}2017.json",
        },
        classes=lambda root, name: cs.coco_panoptic_classes(),
        evaluator_type="coco_panoptic_seg",
        made_by={"sem_seg_root": PREP.format("prepare_coco_semantic.py")},
    )


def _ade150_panoptic(split: str, dirname: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_ade20k_150_panoptic_{split}",
        benchmark="ADE20K panoptic, A-150 (PQ / AP / mIoU)",
        format="coco_panoptic",
        folders={
            "image_root": f"{ADE}/images/{dirname}",
            "panoptic_root": f"{ADE}/ade20k_panoptic_{split}",
            "panoptic_json": f"{ADE}/ade20k_panoptic_{split}.json",
            "sem_seg_root": f"{ADE}/annotations_detectron2/{dirname}",
            "instances_json": f"{ADE}/ade20k_instance_{split}.json",
        },
        classes=lambda root, name: cs.ade20k_150_classes(
            root / ADE, name, root / ADE / f"ade20k_panoptic_{split}.json"
        ),
        evaluator_type="ade20k_panoptic_seg",
        made_by={
            "panoptic_root": PREP.format("prepare_ade20k_panoptic.py"),
            "panoptic_json": PREP.format("prepare_ade20k_panoptic.py"),
            "instances_json": PREP.format("prepare_ade20k_panoptic.py"),
            "sem_seg_root": PREP.format("prepare_ade20k_semantic.py"),
        },
    )


def _ade150_semantic(split: str, dirname: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_ade20k_150_sem_seg_{split}",
        benchmark="ADE20K semantic, A-150 (mIoU)",
        format="semantic",
        folders={"image_root": f"{ADE}/images/{dirname}", "sem_seg_root": f"{ADE}/annotations_detectron2/{dirname}"},
        classes=lambda root, name: cs.ade20k_150_classes(root / ADE, name),
        evaluator_type="sem_seg",
        made_by={"sem_seg_root": PREP.format("prepare_ade20k_semantic.py")},
    )


def _ade847(split: str, dirname: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_ade20k_847_sem_seg_{split}",
        benchmark="ADE20K-Full, A-847 (mIoU)",
        format="semantic",
        folders={
            "image_root": f"{ADE_FULL}/images_detectron2/{dirname}",
            "sem_seg_root": f"{ADE_FULL}/annotations_detectron2/{dirname}",
        },
        classes=lambda root, name: cs.class_file_classes(
            root / ADE_FULL / "classes_847.txt", name, hint=PREP.format("prepare_ade20k_847.py --class-list FILE")
        ),
        evaluator_type="sem_seg",
        ignore_label=65535,
        label_ext=".tif",
        made_by={
            "image_root": PREP.format("prepare_ade20k_847.py"),
            "sem_seg_root": PREP.format("prepare_ade20k_847.py"),
        },
    )


def _cityscapes(split: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_cityscapes_panoptic_{split}",
        benchmark="Cityscapes panoptic (PQ / AP / mIoU)",
        format="coco_panoptic",
        folders={
            "image_root": f"cityscapes/leftImg8bit/{split}",
            "panoptic_root": f"cityscapes/gtFine/cityscapes_panoptic_{split}",
            "panoptic_json": f"cityscapes/gtFine/cityscapes_panoptic_{split}.json",
            "sem_seg_root": f"cityscapes/gtFine/{split}",
            "gt_dir": f"cityscapes/gtFine/{split}",
        },
        classes=lambda root, name: cs.cityscapes_classes(),
        evaluator_type="cityscapes_panoptic_seg",
        layout="cityscapes",
        made_by={
            "panoptic_root": PREP.format("prepare_cityscapes.py"),
            "panoptic_json": PREP.format("prepare_cityscapes.py"),
        },
    )


def _mapillary(split: str, dirname: str) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_mapillary_vistas_panoptic_{split}",
        benchmark="Mapillary Vistas v1.2 panoptic (PQ / mIoU)",
        format="coco_panoptic",
        folders={
            "image_root": f"mapillary_vistas/{dirname}/images",
            "panoptic_root": f"mapillary_vistas/{dirname}/panoptic",
            "panoptic_json": f"mapillary_vistas/{dirname}/panoptic/panoptic_2018.json",
            "sem_seg_root": f"mapillary_vistas/{dirname}/labels",
        },
        classes=lambda root, name: cs.panoptic_json_classes(
            root / f"mapillary_vistas/{dirname}/panoptic/panoptic_2018.json", name
        ),
        evaluator_type="mapillary_vistas_panoptic_seg",
        ignore_label=65,  # label 65 of the v1.2 label PNGs is "unlabeled"
    )


def _pc59_classes(root: Path, name: str) -> DatasetClasses:
    return cs.class_file_classes(cs.CLASS_FILES / "pascal_context_59.txt", name)


def _pc459_classes(root: Path, name: str) -> DatasetClasses:
    hint = "copy labels.txt of the Pascal Context release there, or " + PREP.format("prepare_pascal_context.py")
    return cs.class_file_classes(root / "pascal_ctx_d2" / "labels_459.txt", name, id_offset=-1, hint=hint)


# PC-59 labels are 8-bit PNGs; PC-459 needs 16-bit TIFFs (459 classes do not fit in a byte).
PASCAL_CONTEXT = {
    59: {"classes": _pc59_classes, "ignore_label": 255, "label_ext": ".png"},
    459: {"classes": _pc459_classes, "ignore_label": 65535, "label_ext": ".tif"},
}


def _pascal_context(split: str, dirname: str, num: int) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_pascal_ctx_{num}_sem_seg_{split}",
        benchmark=f"Pascal Context {num}, PC-{num} (mIoU)",
        format="semantic",
        folders={
            "image_root": f"pascal_ctx_d2/images/{dirname}",
            "sem_seg_root": f"pascal_ctx_d2/annotations_ctx{num}/{dirname}",
        },
        evaluator_type="sem_seg",
        **PASCAL_CONTEXT[num],
        made_by={role: PREP.format("prepare_pascal_context.py") for role in ("image_root", "sem_seg_root")},
    )


def _pascal_voc(split: str, dirname: str, num: int) -> BuiltinDataset:
    return BuiltinDataset(
        name=f"gpa_pascal_voc_{num}_sem_seg_{split}",
        benchmark=f"Pascal VOC {num}, PAS-{num} (mIoU; background {'is class 0' if num == 21 else 'ignored'})",
        format="semantic",
        folders={
            "image_root": f"pascal_voc_d2/images/{dirname}",
            "sem_seg_root": f"pascal_voc_d2/annotations_pascal{num}/{dirname}",
        },
        classes=lambda root, name: cs.pascal_voc_classes(with_background=num == 21),
        evaluator_type="sem_seg",
        made_by={role: PREP.format("prepare_pascal_voc.py") for role in ("image_root", "sem_seg_root")},
    )


_SPLITS = (("train", "training"), ("val", "validation"))

BUILTIN_DATASETS: tuple[BuiltinDataset, ...] = (
    *(_coco(s) for s, _ in _SPLITS),
    *(_ade150_panoptic(s, d) for s, d in _SPLITS),
    *(_ade150_semantic(s, d) for s, d in _SPLITS),
    *(_ade847(s, d) for s, d in _SPLITS),
    *(_cityscapes(s) for s, _ in _SPLITS),
    *(_mapillary(s, d) for s, d in _SPLITS),
    *(_pascal_context(s, d, n) for n in (59, 459) for s, d in _SPLITS),
    *(_pascal_voc(s, d, n) for n in (20, 21) for s, d in _SPLITS),
)


def builtin_dataset(name: str) -> BuiltinDataset:
    """The table row of a builtin dataset; unknown names fail with the list of valid ones."""
    for row in BUILTIN_DATASETS:
        if row.name == name:
            return row
    raise KeyError(f"'{name}' is not a builtin dataset; valid: {[r.name for r in BUILTIN_DATASETS]}")


def datasets_root() -> Path:
    """$DETECTRON2_DATASETS, or ./datasets as in detectron2, made absolute against the current directory."""
    return Path(os.path.abspath(os.environ.get("DETECTRON2_DATASETS", "datasets")))


def _register_panoptic(row: BuiltinDataset, root: Path, replace: bool) -> None:
    paths = {role: root / rel for role, rel in row.folders.items()}
    extra = {"gt_dir": str(paths.pop("gt_dir"))} if "gt_dir" in paths else {}
    register_coco_panoptic_format(
        row.name,
        image_root=paths["image_root"],
        panoptic_root=paths["panoptic_root"],
        panoptic_json=paths["panoptic_json"],
        sem_seg_root=paths.get("sem_seg_root"),
        instances_json=paths.get("instances_json"),
        classes=lambda: row.classes(root, row.name),
        evaluator_type=row.evaluator_type,
        ignore_label=row.ignore_label,
        hints=row.made_by,
        replace=replace,
        **LAYOUTS[row.layout],
        **extra,
    )


def _register_semantic(row: BuiltinDataset, root: Path, replace: bool) -> None:
    register_semantic_format(
        row.name,
        image_root=root / row.folders["image_root"],
        sem_seg_root=root / row.folders["sem_seg_root"],
        classes=lambda: row.classes(root, row.name),
        label_ext=row.label_ext,
        ignore_label=row.ignore_label,
        evaluator_type=row.evaluator_type,
        hints=row.made_by,
        replace=replace,
    )


FORMATS: dict[str, Callable[[BuiltinDataset, Path, bool], None]] = {
    "coco_panoptic": _register_panoptic,
    "semantic": _register_semantic,
}


def register_builtin_datasets(
    root: str | Path | None = None, names: Iterable[str] | None = None, replace: bool = False
) -> None:
    """Register the builtin datasets (all, or `names`) under `root` (default: `datasets_root()`).

    `replace=True` re-points already registered names, e.g. at generated data in tests.
    """
    root = Path(os.path.abspath(root)) if root is not None else datasets_root()
    rows = BUILTIN_DATASETS if names is None else [builtin_dataset(n) for n in names]
    for row in rows:
        FORMATS[row.format](row, root, replace)
