"""The build_data binary: bad input gets one clear line, no traceback (in this process:
conftest.run_binary); a build holds the data directory's lock."""
import subprocess
import sys

import pytest

import conftest
from mnms_tf import paths


@pytest.fixture
def build_data(tmp_path, monkeypatch, offline):
  del offline  # MNMS_OFFLINE=1
  monkeypatch.setenv('MNMS_DATA_DIR', str(tmp_path))
  return lambda *args: conftest.run_binary('mnms_tf.bin.build_data', *args)


def test_unknown_task_and_module(build_data):
  result = build_data('--tasks=imbd_reviews', '--modules=')
  assert result.returncode == 1
  assert 'Unknown task' in result.stderr and 'imdb_reviews' in result.stderr
  assert 'Traceback' not in result.stderr
  result = build_data('--tasks=', '--modules=en-dim300')
  assert result.returncode == 1 and 'known modules: en-dim128' in result.stderr


def test_malformed_gin_binding_and_offline_dataset(build_data):
  result = build_data('--tasks=', '--modules=', '--gin_bindings=user_tasks.tasks = [')
  assert result.returncode == 1 and 'Bad gin config' in result.stderr
  result = build_data('--tasks=sst2', '--modules=')
  assert result.returncode == 1 and 'rt_snippets' in result.stderr
  assert 'Traceback' not in result.stderr


def test_a_build_holds_the_data_directory_lock_against_another_process(tmp_path):
  """While one build holds it, another process cannot take it (it would wait); once
  released it can."""
  try_lock = ('import fcntl, sys\n'
              f'f = open({str(tmp_path / ".build.lock")!r}, "w")\n'
              'try:\n  fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n'
              'except BlockingIOError:\n  sys.exit(3)\n')
  with paths.build_lock(str(tmp_path)):
    assert subprocess.run([sys.executable, '-c', try_lock], check=False).returncode == 3
  assert subprocess.run([sys.executable, '-c', try_lock], check=False).returncode == 0
