#!/usr/bin/env bash
# Create (or reuse) the project-local virtualenv .venv with gpa and every dependency at the exact versions of
# requirements.txt (the lock; pyproject.toml holds the compatible ranges), test, lint and web-demo extras included.
# Idempotent: a stamp holding the hash of what it installs from skips work on later runs.
# A torch already in the virtualenv (e.g. a CUDA build installed first) is kept: torch, torchvision and their
# CUDA/triton packages are then left out of the lock's pins.
# Usage: bash tools/setup_env.sh            (PYTHON=python3.11 to choose the interpreter: the lock is for 3.11)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GPA_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.gpa-setup-stamp"
want="$(cat "$root/requirements.txt" "$root/tools/setup_env.sh" "$root/pyproject.toml" \
  "$root/gpa/install_detectron2.py" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

"$python" -c 'import sys; sys.version_info[:2] == (3, 11) or sys.exit(
    "tools/setup_env.sh installs the lock (requirements.txt), made for Python 3.11; found " + sys.version.split()[0]
    + ". gpa itself supports Python 3.11 and 3.12: install it into your environment with pip (README)")'
echo "[setup_env] creating/updating $venv (one time; a few minutes)" >&2
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)

constraints="$root/requirements.txt"
torch_family='^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z-]+)=='
if "$py" -c 'import torch' 2>/dev/null; then
  echo "[setup_env] keeping the torch already in $venv: $("$py" -c 'import torch; print(torch.__version__)')" >&2
  constraints="$(mktemp)"
  trap 'rm -f "$constraints"' EXIT
  grep -viE "$torch_family" "$root/requirements.txt" > "$constraints"
fi
"${pip[@]}" install -q -c "$constraints" pip setuptools wheel
# --no-build-isolation: build gpa with the locked setuptools just installed
"${pip[@]}" install -q -c "$constraints" --no-build-isolation -e "$root[dev,demo]"
"$py" "$root/gpa/install_detectron2.py" --if-missing

# Everything installed must come from the lock (apart from a kept torch and its packages), or the set is not
# reproducible.
kept=""
[[ "$constraints" == "$root/requirements.txt" ]] || kept="$torch_family"
"$py" - "$constraints" "$kept" <<'PY'
import re
import sys
from importlib.metadata import distributions

from packaging.utils import canonicalize_name

constraints, kept = sys.argv[1:]
with open(constraints, encoding="utf-8") as lines:
    locked = {canonicalize_name(line.split("==")[0]) for line in lines if "==" in line.split("#")[0]}
not_locked = sorted(
    name
    for name in {canonicalize_name(d.metadata["Name"]) for d in distributions()} - locked
    if name not in ("gpa", "sal-detectron2", "panopticapi-lite") and not (kept and re.match(kept, name + "=="))
)
if not_locked:
    sys.exit("[setup_env] installed but not pinned in requirements.txt (add them at the installed version): "
             + ", ".join(not_locked))
PY

"$py" - <<'PY'
import detectron2, open_clip, panopticapi, pycocotools, torch, torchvision  # noqa: F401
import gpa  # noqa: F401
print(f"[setup_env] ok: torch {torch.__version__}, detectron2 {detectron2.__version__}, open_clip {open_clip.__version__}")
PY
echo "$want" > "$stamp"
