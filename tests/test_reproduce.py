"""bin/reproduce in-process: the gin config its figures are drawn under."""
from absl import flags
from absl.testing import flagsaver
import gin
import pytest

import conftest
from mnms_tf.bin import reproduce
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf.experiments.figures import suite_similarity
from mnms_tf.experiments.figures import suite_transfer


def test_suite_figures_without_searches_see_the_experiments_gin_and_the_users(tmp_path,
                                                                              monkeypatch):
  """Figures recompute the held-out tasks' representations, which gin configures."""
  seen = []

  def record(*args, **kwargs):
    del args, kwargs
    seen.append([gin.query_parameter(f'Protocol.{name}')
                 for name in ('held_out_iterations', 'first_children', 'seeds')])
    return 'drawn'

  for module in (suite_similarity, suite_transfer):
    monkeypatch.setattr(module, 'make', record)
  monkeypatch.setattr(suite_experiment, 'task_features', record)
  user_gin = tmp_path / 'user.gin'
  user_gin.write_text('Protocol.first_children = 4\n')
  with flagsaver.flagsaver():
    flags.FLAGS(['reproduce', '--experiment=suite', '--skip_search', f'--root_dir={tmp_path}',
                 f'--output_dir={tmp_path}', f'--gin_file={user_gin}',
                 '--gin_bindings=Protocol.seeds = 5'])
    reproduce.main([])
  # suite.gin's budget, the user's file and binding: for the task features and each figure
  assert seen == [[10, 4, 5]] * 3


@pytest.mark.parametrize('experiment', ['paper', 'suite', 'peers'])
def test_every_experiments_children_train_where_the_backend_flags_say(tmp_path, monkeypatch,
                                                                       experiment):
  made = []

  def children(*args):
    made.append(args)
    raise errors.UserError('stopped before any child')

  monkeypatch.setattr(evaluators, 'Children', children)
  result = conftest.run_binary(
      'mnms_tf.bin.reproduce', f'--experiment={experiment}', f'--root_dir={tmp_path}',
      f'--output_dir={tmp_path}', f'--data_dir={tmp_path}', '--workers=3', '--backend=ray',
      '--ray_address=ray://head:10001')
  assert result.returncode == 1
  assert result.stderr.strip().endswith('reproduce: error: stopped before any child')
  assert made == [(str(tmp_path), 3, 'ray', 'ray://head:10001')]


def test_searches_at_once_need_ray_and_say_so_before_any_child(tmp_path, monkeypatch):
  monkeypatch.setattr(evaluators, 'Children', lambda *args: pytest.fail('trained children'))
  result = conftest.run_binary(
      'mnms_tf.bin.reproduce', '--experiment=suite', f'--root_dir={tmp_path}',
      f'--output_dir={tmp_path}', f'--data_dir={tmp_path}', '--concurrent_searches=2')
  assert result.returncode == 1
  assert result.stderr.strip().endswith(
      'reproduce: error: --concurrent_searches runs searches as Ray tasks: add --backend=ray')
  assert not list(tmp_path.iterdir())
