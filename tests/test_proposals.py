"""What a search deploys and re-trains (search/incumbent.py) on hand-computed numbers; the
acquisition of model-assisted sampling (transfer/assisted.py) on hand-computed numbers;
re-train slots in a search (search/proposals.py): what they hold, that a resume fills them
identically, what export_best retrains, and one-line errors for settings that cannot work."""
import numpy as np
import pytest

from mnms_tf.controllers import factory as controller_lib
from mnms_tf.evaluation import synthetic
from mnms_tf.search import export as export_lib
from mnms_tf.search import incumbent
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import assisted

TARGETS = {'a': [1, 0, 2, 1, 3, 2, 1]}


def test_shrinkage_weighs_the_noise_measured_by_repeats_against_the_spread_of_configs():
  draws = {'a': [0.8, 0.6], 'b': [0.75], 'c': [0.5, 0.5]}
  # within: ((0.1^2 + 0.1^2) + 0) / (1 + 1) = 0.01; means 0.7, 0.75, 0.5 (mean 0.65),
  # variance (0.05^2 + 0.1^2 + 0.15^2) / 3 = 0.011667; noise share 0.01 * (1/2 + 1 + 1/2) / 3
  # = 0.006667; between 0.005; k = 0.01 / 0.005 = 2
  assert incumbent.shrinkage(draws) == pytest.approx(2.0)
  estimates = incumbent.estimates(draws)
  # a (1.4 + 2 * 0.65) / 4 = 0.675; b (0.75 + 1.3) / 3 = 0.68333; c (1.0 + 1.3) / 4 = 0.575
  assert estimates == pytest.approx({'a': 0.675, 'b': 0.683333, 'c': 0.575})
  assert incumbent.estimates(draws, incumbent.BEST_MEAN) == pytest.approx(
      {'a': 0.7, 'b': 0.75, 'c': 0.5})
  # no config drawn twice: nothing measures the noise, so no shrinkage (best mean)
  assert incumbent.shrinkage({'a': [0.9], 'b': [0.7]}) == 0.0
  # configs that differ by less than their noise: k large, estimates near the prior
  assert incumbent.shrinkage({'a': [0.9, 0.5], 'b': [0.5, 0.9]}) > 1e3


def test_shrunk_mean_deploys_a_config_seen_often_over_one_lucky_draw():
  hashes = ['a', 'a', 'a', 'b', 'c', 'c']
  val = [0.80, 0.78, 0.82, 0.83, 0.60, 0.64]
  assert incumbent.deployed(hashes, val, incumbent.BEST_DRAW)[-1] == 'b'
  assert incumbent.deployed(hashes, val, incumbent.BEST_MEAN)[-1] == 'b'
  # within: (0.02^2 * 2 + 0.02^2 * 2) / (2 + 1) = 0.000533; means 0.8, 0.83, 0.62 (mean
  # 0.75), variance 0.008600, noise share 0.000533 * (1/3 + 1 + 1/2) / 3 = 0.000326;
  # k = 0.0645: a (2.4 + 0.0484) / 3.0645 = 0.79896, b (0.83 + 0.0484) / 1.0645 = 0.82516
  assert incumbent.deployed(hashes, val, incumbent.SHRUNK_MEAN)[-1] == 'b'
  # noisier repeats of a: k = 1.45, b's single draw counts for less than a's three
  val = [0.90, 0.70, 0.85, 0.84, 0.60, 0.64]
  assert incumbent.deployed(hashes, val, incumbent.BEST_MEAN)[-1] == 'b'
  assert incumbent.deployed(hashes, val, incumbent.SHRUNK_MEAN)[-1] == 'a'
  with pytest.raises(ValueError, match='deploy rule'):
    incumbent.deployed(hashes, val, 'luckiest')


def test_to_retrain_takes_the_best_estimated_configs_short_of_max_draws():
  hashes = ['a', 'a', 'b', 'c', 'd']
  val = [0.9, 0.9, 0.8, 0.7, 0.85]
  assert incumbent.to_retrain(hashes, val, 2, max_draws=3, rule=incumbent.BEST_MEAN) == [
      'a', 'd']
  assert incumbent.to_retrain(hashes, val, 2, max_draws=2, rule=incumbent.BEST_MEAN) == [
      'd', 'b']
  assert incumbent.to_retrain(hashes, val, 2, 3, pending={'d'}, rule=incumbent.BEST_MEAN) == [
      'a', 'b']


def test_residual_posterior_and_upper_confidence_bound_on_hand_computed_numbers():
  mean, covariance = assisted.residual_posterior([[1.0], [1.0]], [0.1, 0.1], residual_std=0.1,
                                                 noise_std=0.1)
  # precision 2 / 0.01 + 1 / 0.01 = 300; mean (1 / 300) * 0.2 / 0.01 = 0.0667
  assert covariance == pytest.approx(np.array([[1 / 300]]))
  assert mean == pytest.approx([0.2 / 3])
  ucb = assisted.upper_confidence_bound(np.array([0.5, 0.5]), np.array([0.0, 0.04]),
                                        [[1.0], [0.0]], (mean, covariance), exploration=1.0)
  # 0.5 + 0.0667 + sqrt(1 / 300); 0.5 + 0 + sqrt(0.04^2)
  assert ucb == pytest.approx([0.5 + 0.2 / 3 + np.sqrt(1 / 300), 0.54])
  # no evidence: the prior
  mean, covariance = assisted.residual_posterior(np.zeros([0, 2]), [], 0.05, 0.03)
  assert mean == pytest.approx([0, 0]) and covariance == pytest.approx(np.eye(2) * 0.0025)


def _search(root_dir, iterations, controller='random', **settings):
  return runner.search(str(root_dir), runner.Budget(iterations=iterations),
                       synthetic.SyntheticChildren(TARGETS, accuracy=synthetic.AccuracyLike()),
                       create_controller=controller_lib.ControllerFactory(kind=controller),
                       tasks=['a'], children_per_iteration=4, seed=3, **settings)


def _rows(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return [(r['iteration'], r['slot'], r['config_hash'], r['seed'], r['val_accuracy'])
            for r in store.trials()]


@pytest.mark.parametrize('controller', ['random', 'mnms'])
def test_retrain_slots_train_the_best_estimated_configs_again_with_new_seeds(tmp_path,
                                                                           controller):
  _search(tmp_path / 'whole', 6, controller, retrain_slots=2, max_draws=3)
  rows = _rows(tmp_path / 'whole')
  lookahead = 1  # pipelined: iteration i reads the iterations before i - 1
  for iteration in range(6):
    seen = [r for r in rows if r[0] < iteration - lookahead]
    if not seen:
      continue
    pending = {r[2] for r in rows if r[0] == iteration - lookahead}  # sampled, not seen
    expected = incumbent.to_retrain([r[2] for r in seen], [r[4] for r in seen], 2, 3, pending)
    retrained = [r for r in rows if r[0] == iteration and r[1] >= 2]
    assert [r[2] for r in retrained] == expected
    assert not {r[3] for r in retrained} & {r[3] for r in seen}  # new seeds
  assert max(np.unique([r[2] for r in rows], return_counts=True)[1]) == 3
  # a search stopped after 2 iterations and resumed stores the same children
  _search(tmp_path / 'resumed', 2, controller, retrain_slots=2, max_draws=3)
  _search(tmp_path / 'resumed', 6, controller, retrain_slots=2, max_draws=3)
  assert _rows(tmp_path / 'resumed') == rows
  # export_best retrains the best draw of the config the search deploys: by shrunk mean
  trial, rule, draws = export_lib.deployed_trial(str(tmp_path / 'whole'), 'a')
  deployed = incumbent.deployed([r[2] for r in rows], [r[4] for r in rows],
                                incumbent.SHRUNK_MEAN)[-1]
  assert rule == incumbent.SHRUNK_MEAN and trial['config_hash'] == deployed
  assert trial['val_accuracy'] == max(r[4] for r in rows if r[2] == deployed)
  assert len(draws) == sum(r[2] == deployed for r in rows)
  trial, rule, _ = export_lib.deployed_trial(str(tmp_path / 'whole'), 'a', incumbent.BEST_DRAW)
  assert trial['val_accuracy'] == max(r[4] for r in rows)


def test_proposal_settings_that_cannot_work_are_one_line_errors_and_write_nothing(tmp_path):
  for controller, settings, message in (
      ('random', {'retrain_slots': 4}, 'between 0 and children_per_iteration'),
      ('random', {'retrain_slots': 1, 'max_draws': 1}, 'at least 2'),
      ('random', {'candidates_per_slot': 0}, 'at least 1'),
      ('tpe', {'retrain_slots': 1}, 'not tpe'),
      ('random', {'retrain_slots': 1, 'reuse_evaluated': True}, 'give one of the two'),
      ('random', {'candidates_per_slot': 8}, 'search.value_network')):
    with pytest.raises(runner.RunDirError, match=message):
      _search(tmp_path / 'run', 1, controller, **settings)
  assert not (tmp_path / 'run').exists()
