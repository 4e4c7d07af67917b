#!/usr/bin/env bash
# Sets up .venv and runs the test suite (what CI runs). Extra arguments go to pytest:
#   bash scripts/test.sh -m "not slow"    the fast tier, for the edit-test loop
#   bash scripts/test.sh tests/test_x.py  one file
# The tiers (marker `slow`) are described in tests/conftest.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
exec .venv/bin/python -m pytest "$@"  # no paths given: pyproject.toml testpaths (tests/)
