#!/usr/bin/env bash
# Create (or reuse) the project-local virtualenv .venv with every dependency of gpa.
# Idempotent: a stamp holding the hash of the requirements skips work on later runs.
# Usage: bash tools/setup_env.sh            (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GPA_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.gpa-setup-stamp"
want="$(cat "$root/requirements.txt" "$root/tools/setup_env.sh" "$root/setup.py" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

"$python" -c 'import sys; assert sys.version_info[:2] >= (3, 11), "gpa needs Python >= 3.11, found " + sys.version' 
echo "[setup_env] creating/updating $venv (one time; a few minutes)" >&2
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade "pip>=24" wheel
"${pip[@]}" install -q -r "$root/requirements.txt"

# detectron2: not on PyPI under its own name. sal-detectron2 0.7.2 is upstream detectron2
# (commit a59f0563) published as a py3.10 wheel only; its pure-Python code runs on 3.10+.
if ! "$venv/bin/python" -c 'import detectron2' 2>/dev/null; then
  tmp="$(mktemp -d)"
  "${pip[@]}" download -q --no-deps --only-binary=:all: --python-version 3.10 sal-detectron2==0.7.2 -d "$tmp"
  mv "$tmp"/sal_detectron2-0.7.2-cp310-none-any.whl "$tmp"/sal_detectron2-0.7.2-py3-none-any.whl
  "${pip[@]}" install -q --no-deps "$tmp"/sal_detectron2-0.7.2-py3-none-any.whl
  rm -rf "$tmp"
fi
# panopticapi: published as panopticapi-lite (same package); its metadata asks for scikit-image it never uses.
"${pip[@]}" install -q --no-deps panopticapi-lite==0.2.0
"${pip[@]}" install -q --no-deps -e "$root"

"$venv/bin/python" - <<'PY'
import detectron2, open_clip, panopticapi, pycocotools, torch, torchvision  # noqa: F401
import gpa  # noqa: F401
print(f"[setup_env] ok: torch {torch.__version__}, detectron2 {detectron2.__version__}, open_clip {open_clip.__version__}")
PY
echo "$want" > "$stamp"
