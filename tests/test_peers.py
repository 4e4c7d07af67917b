"""The peers (Optuna's TPE, Keras Tuner's Bayesian optimisation, SMAC3) behind the
controller interface: they learn from what they are told, resume exactly, warm-start by
hand, and their settings are the run's (run.json); SMAC re-trains its incumbents on new
seeds; and which controllers need the synchronous loop."""
import json

import gin
import numpy as np
import pytest

from mnms_tf.controllers import agent as agent_lib
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.controllers import peers
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.evaluation import synthetic

SPACE = search_space.SearchSpace()
TARGETS = synthetic.example_targets(SPACE.sizes)
# Keras Tuner's Gaussian process takes ~1 s a proposal: its runs are in the slow tier.
KINDS = [pytest.param(k, marks=pytest.mark.slow) if k == 'keras_tuner' else k
         for k in sorted(peers.PROPOSERS)]


def _search(root_dir, kind, iterations, tasks=('a',), seed=1, width=8, **kwargs):
  kwargs.setdefault('num_initial_configs', min(4, width))
  return runner.search(str(root_dir), runner.Budget(iterations=iterations),
                       synthetic.SyntheticChildren(TARGETS),
                       task_features=synthetic.SyntheticTaskFeatures(TARGETS), tasks=list(tasks),
                       create_controller=controller_lib.ControllerFactory(kind=kind),
                       children_per_iteration=width, seed=seed, **kwargs)


def _trials(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return [(r['iteration'], r['slot'], r['task'], r['config'], r['seed'])
            for r in store.trials()]


@pytest.mark.parametrize('kind', KINDS)
def test_proposals_follow_the_told_rewards(kind):
  """Told that the reward is the number of parameters matching a target, a peer proposes
  configs closer to it than its history's average and repeats no pending config."""
  target = np.array(TARGETS['a'])
  rng = np.random.default_rng(0)
  told = np.stack([rng.integers(size, size=40) for size in SPACE.sizes], axis=1)
  rewards = (told == target).mean(axis=1)
  pending = told[:2] * 0 + target  # the target itself is already being trained
  proposed = np.array(peers.PROPOSERS[kind](SPACE, told, rewards, pending, 6, seed=3,
                                            settings=peers.settings(kind)))
  assert proposed.shape == (6, len(SPACE.sizes))
  assert (proposed == target).mean() > rewards.mean() + 0.1  # uniform draws: 0.27
  assert not any((p == target).all() for p in proposed)


@pytest.mark.parametrize('kind', KINDS)
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


def test_smac_retrains_its_incumbents_on_new_seeds(tmp_path):
  runner.search(str(tmp_path), runner.Budget(iterations=5),
                synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike()),
                create_controller=controller_lib.ControllerFactory(kind='smac'), tasks=['a'],
                children_per_iteration=8, seed=1)
  by_config = {}
  for _, _, _, config, seed in _trials(tmp_path):
    by_config.setdefault(json.dumps(config, sort_keys=True), []).append(seed)
  repeated = [seeds for seeds in by_config.values() if len(seeds) > 1]
  assert repeated and all(len(set(seeds)) == len(seeds) for seeds in repeated)
  assert max(len(seeds) for seeds in by_config.values()) <= peers.settings('smac')[
      'max_config_calls']


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


@pytest.mark.parametrize('kind, name, value', [('tpe', 'n_startup_trials', 5),
                                               ('keras_tuner', 'beta', 2.0)])
def test_the_peer_settings_are_part_of_the_run_and_a_resume_with_others_is_refused(
    kind, name, value, tmp_path):
  configurable = {'tpe': 'tpe_sampler', 'keras_tuner': 'bayesian_oracle'}[kind]
  gin.bind_parameter(f'{configurable}.{name}', value)
  _search(tmp_path, kind, 1, width=2)
  gin.clear_config()  # the defaults now
  with pytest.raises(runner.RunDirError, match=rf'controller\.peer\.{name}: stored {value}, '
                                               rf'now {peers.DEFAULTS[kind][name]}'):
    _search(tmp_path, kind, 2, width=2)
  info = json.loads((tmp_path / 'run.json').read_text())
  assert info['controller']['peer'] == dict(peers.DEFAULTS[kind], **{name: value})


def test_a_peer_run_from_before_its_settings_were_recorded_resumes_with_the_defaults(
    tmp_path):
  _search(tmp_path, 'tpe', 1, width=2)
  info = json.loads((tmp_path / 'run.json').read_text())
  del info['controller']['peer']  # as run.json was written before 2026-12-02
  (tmp_path / 'run.json').write_text(json.dumps(info))
  assert _search(tmp_path, 'tpe', 2, width=2)['iterations'] == 2
  gin.bind_parameter('tpe_sampler.n_startup_trials', 5)
  with pytest.raises(runner.RunDirError, match=r'controller\.peer\.n_startup_trials: stored 10, '
                                               r'now 5'):
    _search(tmp_path, 'tpe', 3, width=2)


def test_a_peer_rebuilt_from_its_description_proposes_with_the_stored_settings_not_gins():
  rng = np.random.default_rng(0)
  told = np.stack([rng.integers(size, size=12) for size in SPACE.sizes], axis=1)
  rewards = rng.random(len(told))

  def proposals(factory):
    controller = factory(['a'], SPACE, seed=0)
    controller.observe([0] * len(told), told, rewards, None, iteration=0)
    return controller.sample([0] * 4)[0]

  gin.bind_parameter('tpe_sampler.n_startup_trials', 2)  # TPE from the 3rd told config on
  factory = controller_lib.ControllerFactory(kind='tpe')
  description = json.loads(json.dumps(factory.describe()))
  stored = proposals(factory)
  gin.clear_config()
  gin.bind_parameter('tpe_sampler.n_startup_trials', 50)  # random sampling throughout
  rebuilt = controller_lib.ControllerFactory.from_description(description)
  assert rebuilt == factory
  np.testing.assert_array_equal(proposals(rebuilt), stored)
  assert (proposals(controller_lib.ControllerFactory(kind='tpe')) != stored).any()


def test_a_description_without_peer_settings_reads_as_the_defaults_of_then():
  """Runs from before run.json recorded them were made with these defaults."""
  gin.bind_parameter('tpe_sampler.n_startup_trials', 3)
  gin.bind_parameter('bayesian_oracle.beta', 1.0)
  for kind in peers.DEFAULTS:  # (SMAC came after: its runs record them)
    rebuilt = controller_lib.ControllerFactory.from_description({'kind': kind, 'agent': None})
    assert rebuilt.describe() == {'kind': kind, 'agent': None, 'peer': peers.DEFAULTS[kind]}
  assert peers.DEFAULTS == {
      'tpe': {'constant_liar': True, 'n_startup_trials': 10, 'multivariate': False},
      'keras_tuner': {'num_initial_points': None, 'alpha': 1e-4, 'beta': 2.6}}
  for kind in ('mnms', 'random'):
    assert controller_lib.ControllerFactory(kind=kind).describe()['peer'] is None


def test_only_an_on_policy_mnms_controller_needs_the_synchronous_loop():
  """REINFORCE learns from samples of the policy it updates: the pipelined loop's are one
  iteration stale."""
  on_policy = agent_lib.AgentSettings(mode=agent_lib.ON_POLICY)
  assert controller_lib.ControllerFactory(agent=on_policy).synchronous_only
  assert not controller_lib.ControllerFactory().synchronous_only
  for kind in ('random',) + tuple(peers.PROPOSERS):
    assert not controller_lib.ControllerFactory(kind=kind, agent=on_policy).synchronous_only
