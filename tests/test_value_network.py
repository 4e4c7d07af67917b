"""The value network (arXiv 1902.05781): its losses on hand-computed numbers; on synthetic
tasks whose best config depends on the task, it learns from other tasks' trials and its
gradient ascent finds a held-out task's best config; save, load and resume; and searches
that evaluate its suggestions first."""
import json
import os
import shutil

import numpy as np
import pytest
from scipy import stats
import tensorflow as tf

from mnms_tf.controllers import factory as controller_lib
from mnms_tf.controllers import losses
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.evaluation import synthetic
from mnms_tf.transfer import value_network

SPACE = search_space.SearchSpace()
CLEAN = synthetic.AccuracyLike(noise=0.0)


def test_squared_error_and_pairwise_ranking_loss_on_hand_computed_numbers():
  scores = tf.constant([2.0, 0.0, 1.0, 5.0])
  targets = tf.constant([0.9, 0.5, 0.7, 0.1])
  groups = tf.constant([0, 0, 1, 1])
  assert float(losses.squared_error(scores, targets)) == pytest.approx(
      np.mean([1.1 ** 2, 0.5 ** 2, 0.3 ** 2, 4.9 ** 2]), rel=1e-5)
  # group 0: 0.9 > 0.5, margin 2 - 0 = 2; group 1: 0.7 > 0.1, margin 1 - 5 = -4
  expected = (np.log1p(np.exp(-2.0)) + np.log1p(np.exp(4.0))) / 2
  assert float(losses.pairwise_ranking_loss(scores, targets, groups)) == pytest.approx(
      expected, rel=1e-5)
  assert float(losses.pairwise_ranking_loss(scores, tf.fill([4], 0.5), groups)) == 0.0


def _target(embedding, learning_rate):
  """Every task shares the best choices but the embedding and the learning rate."""
  target = [size - 1 for size in SPACE.sizes]
  target[0], target[4] = embedding, learning_rate
  return target


TARGETS = {f't{e}{l}': _target(e, l) for e in range(4) for l in range(5)}
HELD_OUT = ['t33', 't21', 't04']  # each choice of theirs is some training task's too
TRAINING = [t for t in TARGETS if t not in HELD_OUT][:14]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A random search over 14 training tasks (896 trials) and a network fitted on it."""
  root = tmp_path_factory.mktemp('value_network')
  evaluator = synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike())
  runner.search(str(root / 'run'), runner.Budget(iterations=112), evaluator, tasks=TRAINING,
                create_controller=controller_lib.ControllerFactory(kind='random'),
                children_per_iteration=8, seed=0, checkpoint_every=1000)
  task_features = synthetic.SyntheticTaskFeatures(TARGETS)
  representations = {t: task_features.representation(t) for t in TARGETS}
  network = value_network.fit(str(root / 'network'), [str(root / 'run')], representations,
                              SPACE, settings=value_network.ValueNetworkSettings(ensemble_size=3))
  return root, representations, network


def _random_configs(count=200):
  rng = np.random.default_rng(1)
  return np.array([[rng.integers(size) for size in SPACE.sizes] for _ in range(count)])


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_the_ascent_finds_a_held_out_tasks_best_config(trained):
  _, representations, network = trained
  actions = _random_configs()
  for task in HELD_OUT:
    suggestions = network.suggest(representations[task], top_k=3)
    assert len({SPACE.config_hash(c) for c, _ in suggestions}) == 3
    suggested = value_network.one_hot([SPACE.to_actions(c) for c, _ in suggestions],
                                      SPACE.sizes)
    np.testing.assert_allclose([p for _, p in suggestions],
                               network.predict(representations[task], suggested), rtol=1e-6)
    scores = list(network.predict(representations[task], suggested,
                                  value_network.AscentSettings().pessimism).numpy())
    assert scores == sorted(scores, reverse=True)
    real = [CLEAN(TARGETS[task], SPACE.to_actions(c), 0) for c, _ in suggestions]
    median_random = np.median([CLEAN(TARGETS[task], a, 0) for a in actions])
    # The best is 0.9; missing one of the two least important choices costs 0.02 or 0.04.
    assert real[0] >= 0.86 > median_random + 0.15, (task, real, median_random)
    # It does know the task: the other tasks' best embedding scores far lower.
    assert SPACE.to_actions(suggestions[0][0])[0] == TARGETS[task][0]


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_predictions_rank_a_held_out_tasks_configs(trained):
  _, representations, network = trained
  actions = _random_configs()
  for task in HELD_OUT:
    predicted = network.predict(representations[task],
                                value_network.one_hot(actions, SPACE.sizes)).numpy()
    real = [CLEAN(TARGETS[task], a, 0) for a in actions]
    assert stats.spearmanr(predicted, real).statistic > 0.8


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_a_saved_network_loads_and_a_refit_with_other_settings_is_refused(trained, tmp_path):
  root, representations, network = trained
  loaded = value_network.load(network.model_dir)
  inputs = value_network.one_hot(_random_configs(20), SPACE.sizes)
  np.testing.assert_array_equal(loaded.predict(representations['t33'], inputs),
                                network.predict(representations['t33'], inputs))
  info = json.loads((root / 'network' / value_network.INFO).read_text())
  assert info['tasks'] == sorted(TRAINING) and info['num_trials'] == 112 * 8
  assert info['run_dirs'] == [str(root / 'run')]
  with pytest.raises(value_network.ValueNetworkError, match=r"other \['settings'\]"):
    value_network.fit(network.model_dir, [str(root / 'run')], representations, SPACE,
                      settings=value_network.ValueNetworkSettings(epochs=3))
  with pytest.raises(value_network.ValueNetworkError, match='no value network'):
    value_network.load(str(tmp_path))


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_an_interrupted_fit_resumes_to_the_same_weights(trained, tmp_path):
  root, representations, _ = trained
  settings = value_network.ValueNetworkSettings(epochs=6, checkpoint_every=3, loss='pairwise')
  whole = value_network.fit(str(tmp_path / 'whole'), [str(root / 'run')], representations,
                            SPACE, settings=settings)
  # Interrupted after epoch 3: only that checkpoint survives.
  shutil.copytree(tmp_path / 'whole', tmp_path / 'resumed')
  checkpoints = tmp_path / 'resumed' / value_network.CHECKPOINTS
  for path in checkpoints.glob('ckpt-6*'):
    path.unlink()
  resumed = value_network.fit(str(tmp_path / 'resumed'), [str(root / 'run')],
                              representations, SPACE, settings=settings)
  assert int(resumed.epoch) == 6
  for whole_member, resumed_member in zip(whole.members, resumed.members, strict=True):
    for a, b in zip(whole_member.weights, resumed_member.weights, strict=True):
      np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_an_ensemble_predicts_its_mean_less_pessimism_times_its_spread(trained):
  _, representations, network = trained
  inputs = value_network.one_hot(_random_configs(50), SPACE.sizes)
  features = np.tile(network.task_features(representations['t33']), (50, 1))
  members = np.stack([m(np.concatenate([features, inputs], axis=1)).numpy()
                      for m in network.members])
  assert len(members) == 3 and np.ptp(members, axis=0).min() > 0  # they differ
  np.testing.assert_allclose(network.predict(representations['t33'], inputs),
                             members.mean(axis=0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(network.predict(representations['t33'], inputs, pessimism=2.0),
                             members.mean(axis=0) - 2.0 * members.std(axis=0),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_a_network_stored_before_ensembles_loads_as_one_network(trained, tmp_path):
  root, representations, _ = trained
  single = value_network.fit(str(tmp_path / 'single'), [str(root / 'run')], representations,
                             SPACE, settings=value_network.ValueNetworkSettings(
                                 epochs=3, ensemble_size=1))
  path = tmp_path / 'single' / value_network.INFO
  info = json.loads(path.read_text())
  del info['settings']['ensemble_size']
  path.write_text(json.dumps(info))
  loaded = value_network.load(str(tmp_path / 'single'))
  inputs = value_network.one_hot(_random_configs(20), SPACE.sizes)
  assert len(loaded.members) == 1
  np.testing.assert_array_equal(loaded.predict(representations['t33'], inputs),
                                single.predict(representations['t33'], inputs))
  with pytest.raises(value_network.ValueNetworkError, match=r"other \['settings'\]"):
    value_network.fit(str(tmp_path / 'single'), [str(root / 'run')], representations, SPACE,
                      settings=value_network.ValueNetworkSettings(epochs=3))


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_a_search_evaluates_the_suggestions_first(trained, tmp_path):
  _, _, network = trained
  evaluator = synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike())
  with pytest.raises(runner.RunDirError, match='give it with one of them'):
    runner.search(str(tmp_path / 'none'), runner.Budget(iterations=1), evaluator,
                  tasks=['t33'], initial_configs='suggested')
  task_features = synthetic.SyntheticTaskFeatures(TARGETS)
  runner.search(str(tmp_path / 'run'), runner.Budget(iterations=1), evaluator, tasks=['t33'],
                task_features=task_features, children_per_iteration=8,
                initial_configs='suggested',
                value_network=network.model_dir, num_initial_configs=3)
  info = json.loads((tmp_path / 'run' / 'run.json').read_text())
  expected = [c for c, _ in network.suggest(task_features.representation('t33'), top_k=3)]
  assert info['initial_config_list'] == {'t33': expected}
  assert info['value_network'] == os.path.abspath(network.model_dir)
  with store_lib.TrialStore(str(tmp_path / 'run'), read_only=True) as store:
    assert [r['config'] for r in store.trials()[:3]] == expected


@pytest.mark.slow  # the trained fixture: a 112-iteration search and a fitted ensemble
def test_model_assisted_sampling_trains_what_the_network_rates_best_and_resumes_exactly(
    trained, tmp_path):
  _, _, network = trained
  task_features = synthetic.SyntheticTaskFeatures(TARGETS)

  def search(root_dir, iterations, **settings):
    runner.search(str(root_dir), runner.Budget(iterations=iterations),
                  synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike()),
                  create_controller=controller_lib.ControllerFactory(kind='random'),
                  task_features=task_features, tasks=['t33'], children_per_iteration=8,
                  seed=5, **settings)
    with store_lib.TrialStore(str(root_dir), read_only=True) as store:
      return [(r['config_hash'], r['val_accuracy']) for r in store.trials()]

  assisted = dict(candidates_per_slot=16, value_network=network.model_dir)
  plain, chosen = search(tmp_path / 'plain', 3), search(tmp_path / 'assisted', 3, **assisted)
  # the same random proposals, but the network's picks among 16 per slot score far higher
  assert np.mean([v for _, v in chosen]) > np.mean([v for _, v in plain]) + 0.1
  assert len({h for h, _ in chosen}) == len(chosen)  # never the same config twice
  info = json.loads((tmp_path / 'assisted' / 'run.json').read_text())
  assert info['candidates_per_slot'] == 16 and info['acquisition']['exploration'] == 1.0
  assert info['task_representations']['t33'] == pytest.approx(
      list(task_features.representation('t33')))
  # stopped after one iteration and resumed without a task-features service: the same
  search(tmp_path / 'resumed', 1, **assisted)
  runner.search(str(tmp_path / 'resumed'), runner.Budget(iterations=3),
                synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike()),
                create_controller=controller_lib.ControllerFactory(kind='random'),
                tasks=['t33'], children_per_iteration=8, seed=5, **assisted)
  with store_lib.TrialStore(str(tmp_path / 'resumed'), read_only=True) as store:
    assert [(r['config_hash'], r['val_accuracy']) for r in store.trials()] == chosen
