"""gpa as a package: its metadata agrees with the lock, the wheel carries every data file, and installing it into an
environment that already has another torch keeps that torch and runs the tiny model end to end."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gpa import install_detectron2

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = REPO / "requirements.txt"
# Python versions pyproject.toml declares supported; each one found on the machine gets the wheel test.
SUPPORTED_PYTHONS = ("3.11", "3.12")
PACKAGES = ("gpa", "gpa_toy")  # what the wheel installs: gpa and its toy-world extension
# "The user's own torch": a build the lock does not pin (lock: 2.14.1 / 0.29.1), at pyproject's lower bounds.
USER_TORCH, USER_TORCHVISION = "2.13.0", "0.28.0"


def _locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _declared_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    return [Requirement(req) for req in [*project["dependencies"], *extras]]


def test_every_declared_requirement_is_locked_at_a_version_in_its_range():
    pins = _locked_versions()
    for req in _declared_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock {req.name}=={pins[name]} outside {req}"


def test_torch_and_torchvision_are_lower_bounds_that_admit_the_tested_user_torch():
    reqs = {canonicalize_name(r.name): r for r in _declared_requirements()}
    for name, user_version in (("torch", USER_TORCH), ("torchvision", USER_TORCHVISION)):
        specs = list(reqs[name].specifier)
        assert [s.operator for s in specs] == [">="], f"{name} must be a lower bound only, got {reqs[name]}"
        assert reqs[name].specifier.contains(user_version) and user_version != _locked_versions()[name]


def test_python_range_is_the_tested_one():
    from packaging.specifiers import SpecifierSet

    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert [v for v in ("3.10", *SUPPORTED_PYTHONS, "3.13") if requires.contains(f"{v}.0")] == list(SUPPORTED_PYTHONS)


def _package_files(package: str) -> list[Path]:
    """The files of a package the wheel carries: all but bytecode and gpa_toy/tools/ (repository scripts)."""
    return [p for p in (REPO / package).rglob("*") if p.is_file() and p.suffix != ".pyc"
            and "__pycache__" not in p.parts and not p.relative_to(REPO).as_posix().startswith("gpa_toy/tools/")]


def test_package_data_covers_every_file_the_packages_read():
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert set(package_data) == set(PACKAGES)
    data_files = {}
    for package in PACKAGES:
        data_files[package] = [p.relative_to(REPO / package).as_posix() for p in _package_files(package)
                               if p.suffix != ".py"]
        uncovered = [f for f in data_files[package]
                     if not any(fnmatch.fnmatch(f, pattern) for pattern in package_data[package])]
        assert not uncovered, f"files under {package}/ missing from [tool.setuptools.package-data]: {uncovered}"
    assert "model_configs/gpa_tiny_vit.json" in data_files["gpa"]
    assert {"pretrained/gpa_toy_vit.pt", "pretrained/gpa_toy_vit.json"} <= set(data_files["gpa_toy"])


def test_the_packages_and_the_toy_extension_are_declared():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert set(find["include"]) == {f"{p}{tail}" for p in PACKAGES for tail in ("", ".*")}
    assert set(find["exclude"]) == {"gpa_toy.tools", "gpa_toy.tools.*"}
    assert PYPROJECT["project"]["entry-points"]["gpa.extensions"] == {"toy": "gpa_toy:register"}


def test_missing_detectron2_message_names_the_command_that_installs_it():
    message = install_detectron2.missing_message(["detectron2"])
    command = f"{sys.executable} {Path(install_detectron2.__file__).resolve()}"
    assert command in message and "detectron2" in message and "git+https://github.com" in message


def test_missing_modules_lists_exactly_the_unimportable(monkeypatch):
    monkeypatch.setattr(install_detectron2, "MODULES", ("detectron2", "gpa_no_such_module", "panopticapi"))
    assert install_detectron2.missing_modules() == ["gpa_no_such_module"]


def _fake_sal_wheel(folder: Path) -> Path:
    wheel = folder / "sal_detectron2-0.7.2-cp310-none-any.whl"
    files = {
        "detectron2/__init__.py": b"__version__ = '0.6'\n",
        "detectron2/_C.cpython-310-x86_64-linux-gnu.so": b"\x7fELF",
        "sal_detectron2-0.7.2.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: cp310-none-any\n",
    }
    record = "".join(f"{name},sha256=x,{len(data)}\n" for name, data in files.items())
    files["sal_detectron2-0.7.2.dist-info/RECORD"] = (record + "sal_detectron2-0.7.2.dist-info/RECORD,,\n").encode()
    with zipfile.ZipFile(wheel, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    return wheel


def test_retagged_detectron2_wheel_is_pure_python_and_consistent(tmp_path):
    (tmp_path / "out").mkdir()
    retagged = install_detectron2.retag_without_extension(_fake_sal_wheel(tmp_path), tmp_path / "out")
    assert retagged.name == "sal_detectron2-0.7.2-py3-none-any.whl"
    with zipfile.ZipFile(retagged) as wheel:
        names = wheel.namelist()
        record = wheel.read("sal_detectron2-0.7.2.dist-info/RECORD").decode()
        tags = wheel.read("sal_detectron2-0.7.2.dist-info/WHEEL").decode()
    assert names == ["detectron2/__init__.py", "sal_detectron2-0.7.2.dist-info/WHEEL",
                     "sal_detectron2-0.7.2.dist-info/RECORD"]
    assert "_C." not in record and "detectron2/__init__.py,sha256=x,20" in record
    assert "Tag: py3-none-any\n" in tags and "cp310" not in tags


# ---------------------------------------------------------------------------------------------- the wheel, installed

def _run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900):
    """Run `cmd` in `cwd` without PYTHONPATH, which could put the checkout's gpa in front of the installed one."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def _interpreter(version: str) -> str | None:
    """An interpreter of `version` on this machine: `pythonX.Y` on PATH, else a pyenv installation."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(map(str, pyenv_root.glob(f"versions/{version}.*/bin/python{version}")), reverse=True)
    for candidate in filter(None, candidates):
        proc = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """gpa's wheel, built from this checkout with the locked setuptools."""
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: an in-tree build would write build/ and gpa.egg-info/ into the checkout
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, source], cwd=out)
    (built,) = out.glob("gpa-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    expected = {p.relative_to(REPO).as_posix() for package in PACKAGES for p in _package_files(package)}
    assert expected <= names, f"the wheel lacks {sorted(expected - names)[:5]}"
    assert not [n for n in names if n.startswith("gpa_toy/tools/")], "repository scripts are not package modules"
    assert "[gpa.extensions]\ntoy = gpa_toy:register" in declared, declared
    return built


PREDICT = """
import sys
from pathlib import Path

import numpy as np
import torch

import gpa
from gpa import Predictor

image = np.zeros((64, 96, 3), dtype=np.uint8)
image[:, :48] = (0, 200, 200)
image[20:44, 60:84] = (20, 40, 220)
predictor = Predictor(sys.argv[1], sys.argv[2])
result = predictor.predict(image, ["cyan heart", "blue circle", "stripes,striped"], stuff=["stripes"])
assert result.panoptic_map.shape == (64, 96), result.panoptic_map.shape
print("gpa", Path(gpa.__file__).resolve().parent)
print("gpa_toy", Path(sys.modules["gpa_toy"].__file__).resolve().parent)  # loaded by the config's EXTENSIONS
print("torch", torch.__version__.split("+")[0])
print("segments", len(result.segments), sorted({s.class_name for s in result.segments}))
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_wheel_into_an_environment_with_another_torch_keeps_it_and_runs_the_tiny_model(version, wheel, tmp_path):
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (looked for python{version} on PATH and under pyenv)")
    work = tmp_path / "user"  # outside the source tree: nothing of the checkout is importable from here
    work.mkdir()
    venv = tmp_path / "venv"
    try:
        _run([python, "-m", "venv", venv], cwd=work)
        py = venv / "bin" / "python"
        pip = [py, "-m", "pip", "--disable-pip-version-check"]
        # The user's torch, from PyPI (`--isolated`: a local find-links folder may hold a +cpu build of the
        # same version, which PyPI's torchvision cannot load with).
        downloads = tmp_path / "torch"
        _run([*pip, "--isolated", "download", "-q", "--no-deps", "--only-binary=:all:", f"torch=={USER_TORCH}",
              "-d", downloads], cwd=work)
        (torch_wheel,) = downloads.glob("torch-*.whl")
        _run([*pip, "install", "-q", torch_wheel, f"torchvision=={USER_TORCHVISION}"], cwd=work)

        _run([*pip, "install", "-q", f"{wheel}[dev]"], cwd=work)
        versions = _run([py, "-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)"],
                        cwd=work).stdout.split()  # PyPI's builds say which CUDA they carry: 2.13.0+cu130
        assert [v.split("+")[0] for v in versions] == [USER_TORCH, USER_TORCHVISION], \
            f"installing gpa replaced the user's torch: {versions}"

        installed = (venv / "lib" / f"python{version}" / "site-packages" / "gpa").resolve()
        missing = _run([py, "-c", "import gpa"], cwd=work, check=False)
        command = f"{py} {installed / 'install_detectron2.py'}"
        assert missing.returncode != 0 and "gpa needs detectron2 and panopticapi" in missing.stderr, missing.stderr
        assert command in missing.stderr, missing.stderr
        _run(shlex.split(command), cwd=work)

        # A config of the user's own, beside their work (the tiny model; its base config next to it).
        configs = work / "configs"
        (configs / "tiny").mkdir(parents=True)
        shutil.copy(REPO / "configs" / "Base-GPA.yaml", configs)
        shutil.copy(REPO / "configs" / "tiny" / "gpa_tiny.yaml", configs / "tiny")
        config = configs / "tiny" / "gpa_tiny.yaml"
        train_net = REPO / "tools" / "train_net.py"
        # A few iterations; the trainer then evaluates on the toy world's validation split.
        training = _run([py, train_net, "--config-file", config, "OUTPUT_DIR", work / "run", "SOLVER.MAX_ITER", 3,
                         "SOLVER.CHECKPOINT_PERIOD", 100], cwd=work)
        log = training.stdout + training.stderr
        assert re.search(r"\|\s+gpa_toy_val\s+\|", log) and "PQ_hm" in log and "mIoU_hm" in log, log[-3000:]
        weights = work / "run" / "model_final.pth"
        assert weights.is_file()

        predicted = _run([py, "-c", PREDICT, config, weights], cwd=work).stdout
        assert f"gpa {installed}\n" in predicted, predicted  # the installed package, not the checkout
        assert f"gpa_toy {installed.parent / 'gpa_toy'}\n" in predicted, predicted
        assert f"torch {USER_TORCH}\n" in predicted and "segments " in predicted, predicted
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # several GB (torch and its CUDA libraries)
