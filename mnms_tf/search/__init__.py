"""One search: the runner loop, its run directory (run.json, lock), checkpoints, trial store
and exports.
"""
