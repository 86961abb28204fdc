"""Reading and writing checkpoints: safe (no code runs), strict (every key accounted for), atomic, lean."""
from .atomic_write import atomic_open, atomic_torch_save, atomic_write_text
from .checkpointer import KNOWN_NON_MODEL_KEYS, LEAN_RECORD_KEY, GPACheckpointer, non_finite_tensors
from .file_reading import CheckpointReadError, read_checkpoint_file, read_restricted_pickle
from .key_check import check_checkpoint_keys, pretrained_clip_keys

__all__ = [
    "CheckpointReadError",
    "GPACheckpointer",
    "KNOWN_NON_MODEL_KEYS",
    "LEAN_RECORD_KEY",
    "atomic_open",
    "atomic_torch_save",
    "atomic_write_text",
    "check_checkpoint_keys",
    "non_finite_tensors",
    "pretrained_clip_keys",
    "read_checkpoint_file",
    "read_restricted_pickle",
]
