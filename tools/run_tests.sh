#!/usr/bin/env bash
# Set up .venv when missing (idempotent), then run the test suite. Extra arguments go to pytest.
# Usage: bash tools/run_tests.sh [-m "not slow"] [tests/...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/setup_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
