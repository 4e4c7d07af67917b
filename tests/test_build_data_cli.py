"""The build_data binary's handling of bad input: one clear line, no traceback (in this
process: conftest.run_binary)."""
import pytest

import conftest


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
