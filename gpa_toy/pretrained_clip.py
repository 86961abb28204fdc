"""The toy world's pretrained tiny CLIP (made by gpa_toy/tools/pretrain_toy_clip.py): its open_clip model config and
its shipped weights, registered with gpa as `gpa://toy_clip` when the extension is loaded."""
from __future__ import annotations

from pathlib import Path

__all__ = ["TOY_CLIP_CHECKPOINT", "TOY_CLIP_CONFIG", "TOY_CLIP_MODEL", "TOY_CLIP_SOURCE", "toy_clip_checkpoint"]

TOY_CLIP_MODEL = "gpa_toy_vit"  # the open_clip model name, from its config file's name
TOY_CLIP_SOURCE = "toy_clip"  # MODEL.CLIP.PRETRAINED "gpa://toy_clip"
_PRETRAINED = Path(__file__).resolve().parent / "pretrained"
TOY_CLIP_CONFIG = _PRETRAINED / f"{TOY_CLIP_MODEL}.json"
TOY_CLIP_CHECKPOINT = _PRETRAINED / f"{TOY_CLIP_MODEL}.pt"
PRETRAIN_COMMAND = (  # stage 1; docs/toy/README.md gives stages 2 and 3, which continue it with --init
    "python gpa_toy/tools/pretrain_toy_clip.py --steps 1500 --eval-every 250 "
    "--output gpa_toy/pretrained/gpa_toy_vit.pt --log docs/toy/pretrain_gpa_toy_vit.log"
)


def toy_clip_checkpoint() -> Path:
    """The shipped fp16 state dict of `TOY_CLIP_MODEL`, for `open_clip.create_model(name, pretrained=path)`."""
    if not TOY_CLIP_CHECKPOINT.is_file():
        raise FileNotFoundError(f"the toy CLIP checkpoint {TOY_CLIP_CHECKPOINT} is missing; make it with "
                                f"`{PRETRAIN_COMMAND}` and the stage-2 and stage-3 commands of docs/toy/README.md "
                                "(run from the repository root)")
    return TOY_CLIP_CHECKPOINT
