"""Install gpa's two dependencies that PyPI does not publish under their own names: detectron2 and panopticapi.

    python -m gpa.install_detectron2            (once detectron2 imports, as a check)
    python /path/to/gpa/install_detectron2.py   (before: `import gpa` needs detectron2; the error prints this line)

- detectron2: `sal-detectron2` 0.7.2 is upstream detectron2 (commit a59f0563, Apache-2.0) plus a Python 3.11 fix,
  published only as a wheel tagged for Python 3.10. Its Python code runs on 3.11 and 3.12, so the wheel is
  downloaded for 3.10, retagged `py3-none-any` and installed. Its compiled `_C` extension was built for another
  torch; it is left out, so detectron2 uses its pure-Python code paths (gpa needs no compiled operator).
  Its metadata asks for `black` (a code formatter it never imports): installed without dependencies; gpa's own
  requirements list what detectron2 imports. With GitHub access, upstream detectron2 built from source works too:
  `pip install 'git+https://github.com/facebookresearch/detectron2.git'`.
- panopticapi: `panopticapi-lite` 0.2.0 ships the same `panopticapi` package; its metadata asks for scikit-image,
  which it never imports: installed without dependencies.

Only the standard library is used here, so the file runs by path before gpa can be imported.
"""
from __future__ import annotations

import argparse
import importlib.util
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

DETECTRON2_DISTRIBUTION = "sal-detectron2==0.7.2"
DETECTRON2_WHEEL_PYTHON = "3.10"  # the only Python the wheel is tagged for
PANOPTICAPI_DISTRIBUTION = "panopticapi-lite==0.2.0"
# The modules gpa imports from these two distributions.
MODULES = ("detectron2", "panopticapi")


def install_command() -> str:
    """The command that installs detectron2 and panopticapi into the running interpreter's environment."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"


def missing_modules() -> list[str]:
    """The modules of MODULES that cannot be imported here."""
    return [name for name in MODULES if importlib.util.find_spec(name) is None]


def missing_message(missing: Sequence[str]) -> str:
    """What `import gpa` says when detectron2 or panopticapi is missing: what, why, and the command that fixes it."""
    return (
        f"gpa needs {' and '.join(missing)}, not installed for {sys.executable}. PyPI does not publish detectron2 "
        "and panopticapi under their names, so installing gpa cannot bring them. Install both with:\n"
        f"    {install_command()}\n"
        "(it installs the sal-detectron2 and panopticapi-lite wheels from PyPI; see that file). With GitHub access, "
        "upstream detectron2 built from source also works: "
        "pip install 'git+https://github.com/facebookresearch/detectron2.git'"
    )


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def retag_without_extension(wheel: Path, target: Path) -> Path:
    """A copy of the sal-detectron2 wheel tagged `py3-none-any`, without its compiled `_C` (see the module doc).

    The wheel's RECORD lists each file with its hash; the copy drops the removed files' lines, so pip's
    install check (every file listed, nothing extra) holds.
    """
    name, version = wheel.name.split("-")[:2]
    out = target / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if _is_compiled_extension(item.filename):
                continue
            data = src.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode("utf-8").splitlines(keepends=True)
                data = "".join(line for line in lines if not _is_compiled_extension(line.split(",")[0])).encode()
            elif item.filename.endswith(".dist-info/WHEEL"):
                data = "".join(
                    "Tag: py3-none-any\n" if line.startswith("Tag:") else line
                    for line in data.decode("utf-8").splitlines(keepends=True)
                ).encode()
            dst.writestr(item, data)
    return out


def _is_compiled_extension(path: str) -> bool:
    return path.startswith("detectron2/_C.") and path.endswith(".so")


def install() -> None:
    """Download, retag and install sal-detectron2, then panopticapi-lite, into this interpreter's environment."""
    if not (3, 11) <= sys.version_info[:2] < (3, 13):
        raise SystemExit(f"gpa supports Python 3.11 and 3.12 (pyproject.toml says why); this is "
                         f"{sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _pip("download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", DETECTRON2_WHEEL_PYTHON,
             DETECTRON2_DISTRIBUTION, "-d", str(folder / "download"))
        (wheel,) = (folder / "download").glob("*.whl")
        _pip("install", "-q", "--no-deps", str(retag_without_extension(wheel, folder)))
    _pip("install", "-q", "--no-deps", PANOPTICAPI_DISTRIBUTION)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when detectron2 and panopticapi import already")
    args = parser.parse_args(argv)
    if args.if_missing and not missing_modules():
        return
    install()
    still_missing = missing_modules()
    if still_missing:
        raise SystemExit(f"installed, but {', '.join(still_missing)} still cannot be imported by {sys.executable}")
    print(f"detectron2 and panopticapi installed for {sys.executable}")


if __name__ == "__main__":
    main()
