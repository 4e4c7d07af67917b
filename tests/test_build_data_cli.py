"""The build_data binary's handling of bad input: one clear line, no traceback."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tmp_path, *args):
  env = dict(os.environ, MNMS_DATA_DIR=str(tmp_path), MNMS_OFFLINE='1')
  return subprocess.run([sys.executable, '-m', 'mnms_tf.bin.build_data', *args], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=300)


def test_unknown_task_and_module(tmp_path):
  result = _run(tmp_path, '--tasks=imbd_reviews', '--modules=')
  assert result.returncode == 1
  assert 'Unknown task' in result.stderr and 'imdb_reviews' in result.stderr
  assert 'Traceback' not in result.stderr
  result = _run(tmp_path, '--tasks=', '--modules=en-dim300')
  assert result.returncode == 1 and 'known modules: en-dim128' in result.stderr


def test_malformed_gin_binding_and_offline_dataset(tmp_path):
  result = _run(tmp_path, '--tasks=', '--modules=', '--gin_bindings=user_tasks.tasks = [')
  assert result.returncode == 1 and 'Bad gin config' in result.stderr
  result = _run(tmp_path, '--tasks=sst2', '--modules=')
  assert result.returncode == 1 and 'rt_snippets' in result.stderr
  assert 'Traceback' not in result.stderr
