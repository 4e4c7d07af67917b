"""Shared fixtures (every fixture file is made here, in temporary directories), the test
tiers, and `run_binary`, which runs a binary's `main` in this process.

Tiers: `bash scripts/test.sh -m "not slow"` is the edit-test loop (every module, by its
unit tests); `bash scripts/test.sh` runs everything, as CI does. `slow` marks what pays
for real data, Ray, a fresh TensorFlow process, an end-to-end run or a long search.
Tests run on one pytest-xdist worker per core (pyproject.toml); `-n 0` runs them in this
process (for --pdb or a single test). Tests that share a directory across workers lock it
(the real data: `paths.build_lock`).
"""
import contextlib
import csv
import importlib
import io
import logging
import os
import socket
import subprocess
import sys
import traceback

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from absl import flags  # pylint: disable=g-import-not-at-top
from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
import gin  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest

from mnms_tf.data.embeddings import module_builder

TINY_WORDS = ['the', 'movie', 'good', 'bad', 'canción', ',']
TINY_OOV_BUCKETS = 3


def pytest_configure(config):
  config.addinivalue_line('markers', 'integration: builds the real offline data (cached); '
                          'implies slow')
  config.addinivalue_line('markers', 'slow: real data, Ray, a binary in a fresh process, an '
                          'end-to-end run or a long search; deselect with -m "not slow"')


def pytest_collection_modifyitems(items):
  for item in items:
    if item.get_closest_marker('integration') and not item.get_closest_marker('slow'):
      item.add_marker(pytest.mark.slow)
  # Slow tests first (in file order), so that the short ones fill the end and both xdist
  # workers finish together (worksteal takes tests from the end of a worker's queue).
  items.sort(key=lambda item: item.get_closest_marker('slow') is None)


def run_binary(module_name, *args):
  """`python -m module_name *args`, but in this process: parses the flags, calls the
  module's `main` and returns a subprocess.CompletedProcess with the exit status, stdout
  and stderr (print()s, sys.exit messages, tracebacks and INFO logs) a process would have.

  Like a fresh process, it starts from no gin config and unparsed flags, and leaves none
  (gin is cleared afterwards: re-parse it if the test goes on using it). Required flags
  are marked only under `__main__`: pass them. Use a subprocess where the fresh process
  is the point (kill -9, exit status of the interpreter, muted C++ stderr, locks).
  """
  module = importlib.import_module(module_name)
  argv = [module_name, *args]
  stdout, stderr = io.StringIO(), io.StringIO()
  handler = logging.StreamHandler(stderr)
  handler.setFormatter(absl_logging.PythonFormatter())
  absl_logger = logging.getLogger('absl')
  level = absl_logger.level
  returncode = 0
  gin.clear_config()
  flags.FLAGS.unparse_flags()
  with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    logging.getLogger().addHandler(handler)
    try:
      remaining = flags.FLAGS(argv)
      absl_logger.setLevel(logging.INFO)  # as app.run's absl handler logs
      module.main(remaining)
    except flags.Error as e:
      print(f'FATAL Flags parsing error: {e}', file=sys.stderr)
      returncode = 1
    except SystemExit as e:
      if isinstance(e.code, str):
        print(e.code, file=sys.stderr)
        returncode = 1
      else:
        returncode = e.code or 0
    except Exception:  # pylint: disable=broad-except
      traceback.print_exc()
      returncode = 1
    finally:
      logging.getLogger().removeHandler(handler)
      flags.FLAGS.unparse_flags()  # (resets absl's logger level: restored after it)
      absl_logger.setLevel(level)
      gin.clear_config()
  return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(autouse=True)
def _fresh_gin():
  yield
  gin.clear_config()


@pytest.fixture(autouse=True)
def _no_flags_left_by_scripts():
  """Removes the flags a test defined by loading a script by its path (a benchmark, not in
  sys.modules: absl names importlib as its module), so that a binary loaded later can
  define its own of the same name."""
  before = set(flags.FLAGS)
  yield
  for name in set(flags.FLAGS) - before:
    module = flags.FLAGS.find_module_defining_flag(name) if name in flags.FLAGS else None
    if module is not None and (module not in sys.modules or module.startswith('importlib')):
      delattr(flags.FLAGS, name)


@pytest.fixture
def offline(monkeypatch):
  """Treat the network as absent, whatever this machine has."""
  monkeypatch.setenv('MNMS_OFFLINE', '1')


@pytest.fixture
def network_attempts(monkeypatch):
  """The (host, port) of every TCP connection tried from this process; each fails at once
  as on a machine without internet (so that "fails fast" is asserted as "never waits on the
  network", not timed)."""
  attempts = []

  def refuse(address, *args, **kwargs):
    del args, kwargs
    attempts.append(tuple(address[:2]) if isinstance(address, tuple) else address)
    raise ConnectionRefusedError(f'no network in this test ({address})')

  monkeypatch.setattr(socket, 'create_connection', refuse)
  monkeypatch.setattr(socket.socket, 'connect', lambda self, address: refuse(address))
  monkeypatch.setattr(socket.socket, 'connect_ex', lambda self, address: refuse(address))
  return attempts


@pytest.fixture(scope='session')
def tiny_module(tmp_path_factory):
  """(path, vectors) of a 4-dim module over TINY_WORDS plus repeats and junk tokens."""
  vectors = np.random.default_rng(0).normal(size=(len(TINY_WORDS), 4)).astype(np.float32)
  words = TINY_WORDS + ['movie', 'two words', '']  # repeats and junk are dropped
  junk = np.ones((3, 4), np.float32)
  path = str(tmp_path_factory.mktemp('modules') / 'tiny')
  module_builder.save_module(path, words, np.concatenate([vectors, junk]), TINY_OOV_BUCKETS,
                             {'name': 'tiny'})
  return path, vectors


def _gin_text(tiny_module_path, task_path):
  return f"""
      import mnms_tf.data.embeddings.registry
      import mnms_tf.data.tasks.registry
      module_handles.handles = {{'en-dim50': '{tiny_module_path}', 'es-dim50': '{tiny_module_path}',
                                 'xx-dim4': '/nonexistent/module'}}
      tiny/FileTask.name = 'tiny'
      tiny/FileTask.path = '{task_path}'
      tiny/FileTask.text_column = 'text'
      tiny/FileTask.label_column = 'label'
      user_tasks.tasks = [@tiny/FileTask()]
  """


@pytest.fixture
def tiny_task(tmp_path, tiny_module):
  """Binds the tiny module and a 240-row task ('good' -> pos, 'bad' -> neg); returns gin text."""
  rng = np.random.default_rng(0)
  path = tmp_path / 'tiny.csv'
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['text', 'label'])
    for i in range(240):
      filler = ' '.join(rng.choice(['the', 'movie', ','], size=rng.integers(2, 6)))
      writer.writerow([f'{filler} {"good" if i % 2 else "bad"} {filler}', 'pos' if i % 2 else 'neg'])
  text = _gin_text(tiny_module[0], path)
  gin.parse_config(text)
  return text
