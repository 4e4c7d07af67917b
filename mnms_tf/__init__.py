"""mnms_tf: Multitask Neural Model Search (Wong & Gesmundo, 2017) in TensorFlow/Keras.

TensorFlow's C++ start-up notes (oneDNN, no CUDA driver, a failed cuInit) go to stderr
before its log level applies; on a CPU machine they are noise around every message of
ours, so TF is imported with stderr muted (whenever a module first imports it) and runs at
TF_CPP_MIN_LOG_LEVEL=3 unless the environment sets another level. Python errors are raised as usual.

Library notes that repeat for every child or checkpoint and drown the search's progress
lines are dropped too (`_LibraryNoise`).
"""
import importlib.abc
import importlib.util
import logging
import os
import sys

# Imported before the filters below touch absl's logger, so that absl makes it (an
# ABSLLogger, which names the calling file in each line), not `logging.getLogger`.
from absl import logging as _absl_logging  # pylint: disable=unused-import

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
  """Mutes stderr (fd 2) while TensorFlow's module body runs, the first time anything
  imports it; modules that need no TensorFlow (the store, the result record) do not pay
  for it."""

  def find_spec(self, name, path, target=None):
    if name != 'tensorflow':
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.loader is not None:
      spec.loader = _MutedLoader(spec.loader)
    return spec


class _MutedLoader(importlib.abc.Loader):

  def __init__(self, loader):
    self.loader = loader

  def create_module(self, spec):
    return self.loader.create_module(spec)

  def exec_module(self, module):
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
      self.loader.exec_module(module)
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      os.close(devnull)


if 'tensorflow' not in sys.modules:
  sys.meta_path.insert(0, _QuietTensorFlowImport())


class _LibraryNoise(logging.Filter):
  """Drops INFO notes that tfds and TF checkpoints log per dataset load and per save, TF's
  retracing warning, which a worker's child architectures (one per depth, each traced
  once: children/trainer.py) can trigger by design, and gin's error for an `include` that is not a
  package resource, logged before gin finds the file on its search path (gin/)."""
  _INFO_FROM = ('dataset_info.py', 'reader.py', 'logging_logger.py', 'functional_saver.py',
                'resource_reader.py')

  def filter(self, record):
    if record.levelno <= logging.INFO and record.filename in self._INFO_FROM:
      return False
    message = record.getMessage()
    if record.filename == 'resource_reader.py' and message.startswith('Path not found'):
      return False
    return 'triggered tf.function retracing' not in message


for _name in ('absl', 'tensorflow', None):  # None: the root logger, which gin logs to
  logging.getLogger(_name).addFilter(_LibraryNoise())
