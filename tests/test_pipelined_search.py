"""benchmarks/pipelined_search.py in-process: it takes gin files and bindings as the
binaries do."""
import contextlib
import importlib.util
import os

from absl import flags
from absl.testing import flagsaver
import gin
import pytest

from mnms_tf.evaluation import evaluators
from mnms_tf.search import runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Searched(Exception):
  pass


def test_the_benchmark_parses_every_gin_file_and_binding_it_is_given(tmp_path, monkeypatch):
  spec = importlib.util.spec_from_file_location(
      'pipelined_search', os.path.join(REPO, 'benchmarks', 'pipelined_search.py'))
  benchmark = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(benchmark)

  def search(*args, **kwargs):
    del args, kwargs
    raise _Searched([gin.query_parameter(f'search.{name}')
                     for name in ('tasks', 'children_per_iteration', 'seed', 'pipelined')])

  monkeypatch.setattr(evaluators, 'Children', lambda *args: contextlib.nullcontext())
  monkeypatch.setattr(runner, 'search', search)
  user_gin = tmp_path / 'user.gin'
  user_gin.write_text('search.children_per_iteration = 3\n')
  with flagsaver.flagsaver(), pytest.raises(_Searched) as searched:
    flags.FLAGS(['pipelined_search', '--gin_file=search/multitask.gin',
                 f'--gin_file={user_gin}', '--gin_bindings=search.seed = 7'])
    benchmark.main([])
  # multitask.gin's tasks, the user's file and binding, and the mode measured first
  assert searched.value.args[0] == [['spanish_langid', 'rt_snippets'], 3, 7, False]
