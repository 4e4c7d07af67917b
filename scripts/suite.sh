#!/usr/bin/env bash
# The suite experiment (the sequel's transfer protocol, docs/transfer.md): build the 14 suite tasks and the modules (idempotent), then
# `reproduce --experiment=suite` (runs/suite; figures, table and REPORT.md's suite section in
# paper_figures/). Extra arguments go to mnms_tf.bin.reproduce; running it again resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
.venv/bin/python -m mnms_tf.bin.build_data --tasks=suite
exec .venv/bin/python -m mnms_tf.bin.reproduce --experiment=suite "$@"
