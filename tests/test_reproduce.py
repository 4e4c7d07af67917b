"""bin/reproduce in-process: the gin config its figures are drawn under."""
from absl import flags
from absl.testing import flagsaver
import gin

from mnms_tf.bin import reproduce
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
