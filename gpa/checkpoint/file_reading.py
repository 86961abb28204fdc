"""Reading checkpoint files without running code from them.

`.pth` / `.pt` files go through `torch.load(weights_only=True)`, passed explicitly so that no environment
variable (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD) can turn it off; `.safetensors` files through safetensors;
`.pkl` files (detectron2 / Mask2Former model zoo) through a restricted unpickler that admits numpy arrays,
numpy scalars and plain containers only. Anything else a file asks for is refused with a message that names
the file and what it asked for.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointReadError", "read_checkpoint_file", "read_restricted_pickle", "RESTRICTED_PICKLE_GLOBALS"]

# (module, name) pairs a .pkl file may reference: numpy's array/scalar reconstruction and plain containers.
RESTRICTED_PICKLE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol-5 arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("_codecs", "encode"),  # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
    }
)


class CheckpointReadError(ValueError):
    """A checkpoint file that cannot be read, or that asks for more than data."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in RESTRICTED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise CheckpointReadError(
            f"{self._path} asks to load the Python object {module}.{name}; gpa reads only arrays, numbers, strings "
            "and containers from pickle files, because anything else can run code. Convert the file to a "
            "state dict of tensors (.pth saved with torch.save, or .safetensors)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointReadError(
            f"{self._path} uses pickle persistent ids (a torch.save file renamed to .pkl?); rename it to .pth"
        )


def read_restricted_pickle(path: str | Path) -> Any:
    """Unpickle `path` admitting only RESTRICTED_PICKLE_GLOBALS; errors name the file."""
    path = Path(path)
    _require_file(path)
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, path).load()
    except CheckpointReadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ModuleNotFoundError, UnicodeDecodeError) as err:
        raise CheckpointReadError(f"cannot read {path} as a pickle file ({type(err).__name__}: {err}); "
                                  "the file is truncated, corrupt or not a pickle") from err


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointReadError(f"checkpoint {path} is empty (0 bytes): an interrupted download or write")


def _describe_unreadable(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(256)
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "it holds text, not a checkpoint (an error page or a Git LFS pointer?)"
    if zipfile.is_zipfile(path):
        return "the archive is corrupt"
    return "the file is truncated or corrupt"


def _read_torch(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        asks = [line for line in lines if "GLOBAL" in line]
        if not asks:
            raise CheckpointReadError(f"cannot read checkpoint {path}: {_describe_unreadable(path)}; download or "
                                      "copy it again") from err
        raise CheckpointReadError(
            f"checkpoint {path} holds Python objects beyond tensors and plain containers ({asks[0]}); gpa loads "
            "weights only, because unpickling such objects can run code. Re-save its weights as "
            "torch.save({'model': model.state_dict()}) or as .safetensors"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            UnicodeDecodeError, zipfile.BadZipFile) as err:
        raise CheckpointReadError(f"cannot read checkpoint {path}: {_describe_unreadable(path)} "
                                  f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                                  "download or copy it again") from err


def _read_safetensors(path: Path) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointReadError(f"cannot read checkpoint {path} as safetensors ({err}); the file is truncated "
                                  "or corrupt") from err


def read_checkpoint_file(path: str | Path) -> Any:
    """The object stored in a checkpoint file, read without running code (see the module doc)."""
    path = Path(path)
    _require_file(path)
    suffix = path.suffix.lower()
    if suffix == ".pkl" and not zipfile.is_zipfile(path):  # a torch.save archive may carry any suffix
        return read_restricted_pickle(path)
    if suffix == ".safetensors":
        return _read_safetensors(path)
    return _read_torch(path)
