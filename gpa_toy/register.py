"""Register the toy world's splits like any builtin dataset; the data is generated when first loaded.

`gpa_toy_train` lists only the seen colour x shape classes (plus the textures): the model is never told
an unseen name in training. `gpa_toy_val` lists all classes; its metadata `unseen_classes` holds the
contiguous ids of the unseen ones, so evaluation can report seen / unseen / harmonic-mean scores.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from detectron2.data import DatasetCatalog

from gpa.data import register_coco_panoptic_format
from gpa.vocabulary import DatasetClasses, Vocabulary

from .cache import DEFAULT_SPLITS, ToySplit, default_toy_root, ensure_toy_dataset
from .generate import IGNORE_LABEL, split_paths
from .world import SEEN_THINGS, STUFF_CLASSES, THING_CLASSES, UNSEEN_THINGS, ToyClass

__all__ = ["TOY_DATASETS", "register_toy_datasets", "toy_split_classes"]

# dataset name -> split of the generated toy dataset
TOY_DATASETS: dict[str, str] = {"gpa_toy_train": "train", "gpa_toy_val": "val"}


def toy_split_classes(spec: ToySplit) -> list[ToyClass]:
    """The classes of a split in contiguous order (category ids sorted): its allowed things, then textures."""
    things = THING_CLASSES if spec.include_unseen else SEEN_THINGS
    return sorted([*things, *STUFF_CLASSES], key=lambda c: c.id)


def _dataset_classes(classes: list[ToyClass]) -> DatasetClasses:
    vocabulary = Vocabulary(tuple((c.name,) for c in classes), tuple(c.isthing for c in classes))
    return DatasetClasses(tuple(c.id for c in classes), vocabulary)


def _display_colour(toy_class: ToyClass) -> list[int]:
    return list(toy_class.colour.rgb) if toy_class.colour is not None else [128, 128, 128]


def register_toy_datasets(
    root: str | Path | None = None,
    splits: Mapping[str, ToySplit] | None = None,
    names: Mapping[str, str] | None = None,
    replace: bool = False,
) -> list[str]:
    """Register each dataset of `names` (dataset name -> split; default TOY_DATASETS) without generating data.

    `root` defaults to `default_toy_root()` as it is now; loading a dataset first runs
    `ensure_toy_dataset(root, splits)`. Returns the registered names.
    """
    splits = dict(DEFAULT_SPLITS if splits is None else splits)
    names = dict(TOY_DATASETS if names is None else names)
    root = Path(root).expanduser() if root is not None else default_toy_root()
    for name, split in names.items():
        if split not in splits:
            raise ValueError(f"toy dataset '{name}' names split '{split}'; the generated splits are {sorted(splits)}")
        classes = toy_split_classes(splits[split])
        unseen_ids = {c.id for c in UNSEEN_THINGS}
        register_coco_panoptic_format(
            name,
            **split_paths(root, split),
            classes=_dataset_classes(classes),
            evaluator_type="coco_panoptic_seg",
            ignore_label=IGNORE_LABEL,
            replace=replace,
            unseen_classes=[i for i, c in enumerate(classes) if c.id in unseen_ids],
            stuff_colors=[_display_colour(c) for c in classes],
            thing_colors=[_display_colour(c) for c in classes if c.isthing],
            toy_root=str(root),
        )
        _generate_before_loading(name, root, splits)
    return list(names)


def _generate_before_loading(name: str, root: Path, splits: Mapping[str, ToySplit]) -> None:
    """Wrap the registered loader of `name` so that it first makes sure the data exists."""
    load = DatasetCatalog[name]  # the catalog maps names to their loader functions
    DatasetCatalog.remove(name)

    def generate_then_load() -> list[dict]:
        ensure_toy_dataset(root, splits)
        return load()

    DatasetCatalog.register(name, generate_then_load)
