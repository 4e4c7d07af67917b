#!/usr/bin/env bash
# The main job on the offline default. For now: build the tasks and embedding modules
# (idempotent) and print their summary. Extra arguments go to the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec .venv/bin/python -m mnms_tf.bin.build_data "$@"
