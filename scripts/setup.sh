#!/usr/bin/env bash
# Creates .venv with the pinned requirements and mnms_tf (editable), or reuses it when it
# already has them (a stamp holds the hash of requirements.txt and pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
stamp=.venv/.requirements.sha256
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then  # missing, or half-made
  echo "setup: creating .venv with $($python --version)" >&2
  rm -rf .venv
  "$python" -m venv .venv
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: installing requirements.txt into .venv (first time: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
