"""The peers (Optuna's TPE, Keras Tuner's Bayesian optimisation) behind the controller
interface: they learn from what they are told, resume exactly, and warm-start by hand."""
import json

import gin
import numpy as np
import pytest

from mnms_tf import controller as controller_lib
from mnms_tf import peers
from mnms_tf import runner
from mnms_tf import search_space
from mnms_tf import store as store_lib
from mnms_tf import synthetic

SPACE = search_space.SearchSpace()
TARGETS = synthetic.example_targets(SPACE.sizes)


def _search(root_dir, kind, iterations, tasks=('a',), seed=1, width=8, **kwargs):
  kwargs.setdefault('num_initial_configs', min(4, width))
  return runner.search(str(root_dir), runner.Budget(iterations=iterations),
                       synthetic.SyntheticChildren(TARGETS), tasks=list(tasks),
                       create_controller=controller_lib.ControllerFactory(kind=kind),
                       children_per_iteration=width, seed=seed, **kwargs)


def _trials(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return [(r['iteration'], r['slot'], r['task'], r['config'], r['seed'])
            for r in store.trials()]


@pytest.mark.parametrize('kind', sorted(peers.PROPOSERS))
def test_proposals_follow_the_told_rewards(kind):
  """Told that the reward is the number of parameters matching a target, a peer proposes
  configs closer to it than its history's average and repeats no pending config."""
  target = np.array(TARGETS['a'])
  rng = np.random.default_rng(0)
  told = np.stack([rng.integers(size, size=40) for size in SPACE.sizes], axis=1)
  rewards = (told == target).mean(axis=1)
  pending = told[:2] * 0 + target  # the target itself is already being trained
  proposed = np.array(peers.PROPOSERS[kind](SPACE, told, rewards, pending, 6, seed=3))
  assert proposed.shape == (6, len(SPACE.sizes))
  assert (proposed == target).mean() > rewards.mean() + 0.1  # uniform draws: 0.27
  assert not any((p == target).all() for p in proposed)


@pytest.mark.parametrize('kind', sorted(peers.PROPOSERS))
def test_an_interrupted_peer_search_resumes_exactly(kind, tmp_path):
  # Keras Tuner leaves random sampling after 4 told configs of a task, so that its Gaussian
  # process proposes within these few iterations (each of its proposals costs ~1 s).
  gin.bind_parameter('bayesian_oracle.num_initial_points', 4)
  _search(tmp_path / 'whole', kind, 6, tasks=['a', 'b'], width=2)
  _search(tmp_path / 'resumed', kind, 3, tasks=['a', 'b'], width=2)
  summary = _search(tmp_path / 'resumed', kind, 6, tasks=['a', 'b'], width=2)
  assert summary['iterations'] == 6
  assert _trials(tmp_path / 'resumed') == _trials(tmp_path / 'whole')
  assert len({json.dumps(t[3]) for t in _trials(tmp_path / 'whole')}) > 4  # not one config


def test_a_warm_started_tpe_search_evaluates_the_nearest_tasks_best_first(tmp_path):
  _search(tmp_path / 'past', 'random', 3, tasks=['a', 'b'])
  with store_lib.TrialStore(str(tmp_path / 'past'), read_only=True) as store:
    best = max(store.trials(task='a', status='ok'), key=lambda r: r['val_accuracy'])
  _search(tmp_path / 'c', 'tpe', 2, tasks=['c'], initial_configs='nearest_best',
          num_initial_configs=1, configs_from=str(tmp_path / 'past'))
  first = [t for t in _trials(tmp_path / 'c') if t[0] == 0]
  assert first[0][3] == best['config'] and len(first) == 8
  info = json.loads((tmp_path / 'c' / 'run.json').read_text())
  assert info['configs_from'] == str(tmp_path / 'past')
  assert info['initial_config_list'] == {'c': [best['config']]}


def test_configs_from_without_nearest_best_or_with_a_transfer_is_a_one_line_error(tmp_path):
  for kind, settings in (('tpe', {'configs_from': str(tmp_path)}),
                         ('mnms', {'configs_from': str(tmp_path), 'init_from': str(tmp_path),
                                   'initial_configs': 'nearest_best'})):
    with pytest.raises(runner.RunDirError, match='configs_from is where'):
      _search(tmp_path / 'run', kind, 1, **settings)
  with pytest.raises(runner.RunDirError, match='Only an MNMS controller can be transferred'):
    _search(tmp_path / 'run', 'keras_tuner', 1, init_from=str(tmp_path))
  assert not (tmp_path / 'run' / 'run.json').exists()
