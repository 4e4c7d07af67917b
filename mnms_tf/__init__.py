"""mnms_tf: Multitask Neural Model Search (Wong & Gesmundo, 2017) in TensorFlow/Keras.

TensorFlow's C++ start-up notes (oneDNN, no CUDA driver, a failed cuInit) go to stderr
before its log level applies; on a CPU machine they are noise around every message of
ours, so TF is imported with stderr muted and runs at TF_CPP_MIN_LOG_LEVEL=3 unless the
environment sets another level. Python errors are raised as usual.
"""
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def _import_tensorflow_quietly():
  if 'tensorflow' in sys.modules:
    return
  sys.stderr.flush()
  saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


_import_tensorflow_quietly()
