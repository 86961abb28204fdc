"""Reading the text and JSON files a user gives, with errors that name the file and what is wrong with it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_json", "read_text", "require_file", "require_fields"]


def require_file(path: str | Path, what: str) -> Path:
    """`path` as a Path if it is an existing regular file, else an error naming it as `what`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give the file itself")
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {path} is not a regular file (a device, pipe or socket); give a file")
    return path


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file; other encodings fail naming the file and the first bad byte."""
    path = require_file(path, what)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start}, "
                         f"line {line}); save it as UTF-8") from None


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON of a UTF-8 file; a truncated or malformed file fails naming it and the position."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        truncated = " (the file looks truncated: was it copied or downloaded completely?)" if err.pos >= len(
            text.rstrip()) else ""
        raise ValueError(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
                         f"{truncated}") from None
    except RecursionError:
        raise ValueError(f"{what} {path} nests JSON arrays or objects too deeply to be read") from None


def require_fields(data: Any, fields: tuple[str, ...], path: str | Path, what: str) -> dict:
    """`data` if it is a JSON object holding every one of `fields`, else an error naming the file and the fields."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} holds a JSON {type(data).__name__}, expected an object with {list(fields)}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise ValueError(f"{what} {path} lacks the field(s) {missing}; it has {sorted(data)[:10]}")
    return data
