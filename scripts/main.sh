#!/usr/bin/env bash
# The main job on the offline default: build the tasks and embedding modules (idempotent),
# then reproduce the paper (searches over 3 seeds, figures, results table, REPORT.md in
# paper_figures/). Extra arguments go to mnms_tf.bin.reproduce; running it again resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
.venv/bin/python -m mnms_tf.bin.build_data
exec .venv/bin/python -m mnms_tf.bin.reproduce "$@"
