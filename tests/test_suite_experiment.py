"""The suite experiment (the sequel's protocol): its measures on hand-computed numbers, and
the whole protocol on synthetic tasks, resumed, drawn and reported."""
import csv
import dataclasses
import os
import shutil

from absl import flags
from absl.testing import flagsaver
import numpy as np
import pytest
from scipy import stats

import conftest
from mnms_tf.bin import reproduce
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf.evaluation import synthetic
from mnms_tf.transfer import value_network
from mnms_tf.experiments.figures import report
from mnms_tf.experiments.figures import suite_transfer


def test_speedups_are_ratios_of_mean_children_and_their_geometric_mean():
  results = {
      't1': {'variants': {'scratch': {'reach': [40, 20]}, 'warm': {'reach': [10, 5]},
                          'transfer': {'reach': [60, 30]}}},
      't2': {'variants': {'scratch': {'reach': [9]}, 'warm': {'reach': [9]},
                          'transfer': {'reach': [3]}}},
  }
  ratios = suite_experiment.speedups(results)
  assert ratios['warm'] == {'t1': 4.0, 't2': 1.0, None: pytest.approx(2.0)}
  assert ratios['transfer'] == {'t1': pytest.approx(2 / 3), 't2': 3.0,
                                None: pytest.approx(np.sqrt(2.0))}
  assert 'scratch' not in ratios


def test_similarity_agreement_ranks_each_defined_pair_once():
  similarity = np.array([[1, .9, .1], [.9, 1, .5], [.1, .5, 1]])
  correlation = np.array([[1, .8, np.nan], [.8, 1, .2], [np.nan, .2, 1]])
  assert suite_experiment.similarity_agreement(similarity, correlation) == pytest.approx(1.0)
  assert suite_experiment.similarity_agreement(similarity, -correlation) == pytest.approx(-1.0)
  similarity[0, 2] = similarity[2, 0] = 0.95  # (0, 2) is undefined on the other side
  assert suite_experiment.similarity_agreement(similarity, correlation) == pytest.approx(1.0)


def _protocol(**kwargs):
  return suite_experiment.Protocol(
      **dict(dict(pretraining_tasks=['a', 'b'], held_out_tasks=['c'], pretraining_iterations=6,
                  held_out_iterations=2, seeds=2), **kwargs))


def test_protocol_refuses_a_task_both_pre_trained_and_held_out_and_unknown_variants():
  with pytest.raises(run_dir_lib.RunDirError, match=r"\['b'\] both pre-trained on and held"):
    _protocol(held_out_tasks=['b', 'c'])
  with pytest.raises(run_dir_lib.RunDirError, match="unknown \\['warmest'\\]"):
    _protocol(variants=['scratch', 'warmest'])


@pytest.fixture(scope='module')
def experiment(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('suite'))
  # every variant, the peers too, but the benchmark's portfolio (it reads ground truth) and
  # the differentiable searches (they train supernets on real data: test_differentiable.py)
  protocol = _protocol(pretraining_iterations=4, seeds=1, variants=[
      v for v, start in suite_experiment.VARIANTS.items()
      if v != 'portfolio' and start.get('controller') != 'darts'])
  protocol.save(root)
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  evaluator = synthetic.SyntheticChildren(targets)
  task_features = synthetic.SyntheticTaskFeatures(targets)
  suite_experiment.run_searches(root, protocol, evaluator, task_features)
  return root, protocol, evaluator, task_features


def _trials(run):
  with store_lib.TrialStore(run, read_only=True) as store:
    return store.trials()


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_every_variant_of_a_seed_gets_the_same_budget_and_child_seeds(experiment):
  root, protocol, _, _ = experiment
  assert suite_experiment.Protocol.load(root) == protocol
  assert len(_trials(os.path.join(root, suite_experiment.PRETRAIN))) == 4 * 8
  for seed in range(protocol.seeds):
    seeds = {}
    for variant in protocol.variants:
      run = suite_experiment.held_out_dir(root, 'c', variant, seed)
      rows = _trials(run)
      assert len(rows) == 2 * 8 and {r['task'] for r in rows} == {'c'}
      seeds[variant] = [r['seed'] for r in rows]
      info = run_dir_lib.read_info(run)
      started = suite_experiment.VARIANTS[variant]
      assert (info['init_from'] is None) == (not started['transfer'])
      assert info['controller']['kind'] == started.get('controller', 'mnms')
    assert len({tuple(s) for s in seeds.values()}) == 1


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_warm_variants_start_from_the_nearest_task_or_the_suggestions(experiment):
  root, _, _, _ = experiment
  nearest = run_dir_lib.read_info(suite_experiment.held_out_dir(root, 'c', 'nearest', 0))
  assert nearest['task_similarities'] == {'c': {'a': pytest.approx(5 / 7), 'b': 0.0}}
  for variant in ('warm_configs', 'suggested', 'tpe_warm'):
    warm = suite_experiment.held_out_dir(root, 'c', variant, 0)
    given = run_dir_lib.read_info(warm)['initial_config_list']['c']
    assert [r['config'] for r in _trials(warm)[:len(given)]] == given
  network = value_network.load(os.path.join(root, suite_experiment.VALUE_NETWORK))
  # fitted on the pre-training trials only
  assert network.info['run_dirs'] == [os.path.join(root, suite_experiment.PRETRAIN)]
  assert network.info['num_trials'] == 4 * 8 and 'c' not in network.info['tasks']


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_a_finished_experiment_resumes_without_training_again(experiment):
  root, protocol, evaluator, task_features = experiment

  class Refuses(type(evaluator)):

    def submit(self, key, job):
      raise AssertionError(f'trained again: {job}')

  suite_experiment.run_searches(root, protocol, Refuses(evaluator.targets), task_features)


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_measures_use_the_best_known_accuracy_over_every_search(experiment):
  root, protocol, _, _ = experiment
  results = suite_experiment.measures(root, protocol)
  assert list(results) == ['c']
  rows = [r for v in protocol.variants for s in range(protocol.seeds)
          for r in _trials(suite_experiment.held_out_dir(root, 'c', v, s))]
  best_known = max(r['val_accuracy'] for r in rows)
  assert results['c']['best_known'] == pytest.approx(best_known)
  scratch = results['c']['variants']['scratch']
  assert len(scratch['reach']) == protocol.seeds
  for seed, (reach, reached) in enumerate(zip(scratch['reach'], scratch['reached'])):
    curve = [r['val_accuracy'] for r in
             _trials(suite_experiment.held_out_dir(root, 'c', 'scratch', seed))]
    hits = [k for k, v in enumerate(curve) if v >= 0.99 * best_known]
    assert (reach, reached) == ((hits[0] + 1, True) if hits else (len(curve), False))


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_the_report_section_replaces_its_predecessor_and_keeps_the_papers(experiment,
                                                                           tmp_path):
  root, protocol, _, task_features = experiment
  (tmp_path / report.FILENAME).write_text('# MNMS reproduction\n\n## 1. Claims\nkept\n')
  for _ in range(2):
    suite_transfer.make(root, str(tmp_path), task_features=task_features)
  text = (tmp_path / report.FILENAME).read_text()
  assert text.startswith('# MNMS reproduction\n\n## 1. Claims\nkept\n')
  assert text.count(report.SUITE_HEADING) == 1 and '| warm_configs |' in text
  assert '| c | ' in text.split('Architecture inference')[1]
  assert (tmp_path / suite_transfer.FILENAME).stat().st_size > 0
  assert (tmp_path / suite_transfer.INFERENCE).stat().st_size > 0
  table = (tmp_path / (suite_transfer.TABLE + '.csv')).read_text().splitlines()
  assert len(table) == 1 + len(protocol.variants)


def test_the_binary_refuses_a_bad_protocol_in_one_line_and_writes_nothing(tmp_path):
  root = tmp_path / 'suite'
  result = conftest.run_binary(
      'mnms_tf.bin.reproduce', '--experiment=suite', f'--root_dir={root}',
      f'--output_dir={tmp_path / "out"}', "--gin_bindings=Protocol.held_out_tasks = ['rt_snippets']")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith('reproduce: error: Protocol: ')
  assert 'Traceback' not in result.stderr
  assert not root.exists() and not (tmp_path / 'out').exists()


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_inference_measures_read_the_value_network_and_the_variants(experiment):
  root, protocol, evaluator, task_features = experiment
  measured = suite_experiment.inference_measures(
      root, protocol, {'c': task_features.representation('c')})['c']
  suggested = suite_experiment.held_out_dir(root, 'c', 'suggested', 0)
  first = _trials(suggested)[0]
  assert measured['suggested'] == first['config']
  assert measured['suggested_accuracy'] == [first['val_accuracy']]
  random = [r['val_accuracy']
            for r in _trials(suite_experiment.held_out_dir(root, 'c', 'random', 0))]
  assert measured['median_random'] == pytest.approx(np.median(random))
  transfer = [r['val_accuracy'] for r in
              _trials(suite_experiment.held_out_dir(root, 'c', 'transfer', 0))][:8]
  assert measured['transfer_first_8'] == pytest.approx(max(transfer))
  assert measured['trials'] == 2 * 8 * len(protocol.variants)
  network = value_network.load(os.path.join(root, suite_experiment.VALUE_NETWORK))
  rows = [r for v in protocol.variants
          for r in _trials(suite_experiment.held_out_dir(root, 'c', v, 0))]
  predicted = network.predict(task_features.representation('c'), value_network.one_hot(
      [network.space.to_actions(r['config']) for r in rows], network.space.sizes))
  assert measured['spearman'] == pytest.approx(
      stats.spearmanr(predicted, [r['val_accuracy'] for r in rows]).statistic)


@pytest.mark.slow  # the experiment fixture: 11 synthetic searches and a value network
def test_measures_skip_unfinished_searches_and_cut_longer_ones_to_the_budget(experiment,
                                                                            tmp_path):
  root, protocol, evaluator, task_features = experiment
  shutil.copytree(root, tmp_path / 'suite')
  copy = str(tmp_path / 'suite')
  runner.search(suite_experiment.held_out_dir(copy, 'c', 'scratch', 0), runner.Budget(3),
                evaluator, tasks=['c'], seed=0)  # one iteration past the budget
  shutil.rmtree(suite_experiment.held_out_dir(copy, 'c', 'random', 0))
  runner.search(suite_experiment.held_out_dir(copy, 'c', 'random', 0), runner.Budget(1),
                evaluator, tasks=['c'], seed=0,
                create_controller=controller_lib.ControllerFactory(kind='random'))
  assert suite_experiment.finished_runs(copy, protocol, 'c', 'random') == []
  results = suite_experiment.measures(copy, protocol)['c']
  assert 'random' not in results['variants']
  original = suite_experiment.measures(root, protocol)['c']
  for measure in ('first', 'best'):  # the scratch search measured on its budget only
    assert (results['variants']['scratch'][measure] ==
            original['variants']['scratch'][measure])


def _compare(*args, methods=('random', 'scratch', 'tpe', 'tpe_warm', 'keras_tuner')):
  """`reproduce --experiment=peers --skip_search`, in-process."""
  with flagsaver.flagsaver():
    flags.FLAGS(['reproduce', '--experiment=peers', '--skip_search', *args,
                 f'--gin_bindings=PeerComparison.methods = {list(methods)}'])
    reproduce.main([])


@pytest.mark.slow  # the benchmark as a fresh process
def test_the_peer_benchmark_reports_every_method_against_random_search(experiment, tmp_path):
  root, protocol, _, _ = experiment
  _compare(f'--root_dir={root}', f'--output_dir={tmp_path}')
  with open(tmp_path / 'search_vs_peers.csv') as f:
    rows = {r['method']: r for r in csv.DictReader(f)}
  assert sorted(rows) == ['keras_tuner', 'random', 'scratch', 'tpe', 'tpe_warm']
  compared = dataclasses.replace(protocol, variants=('random', 'scratch', 'tpe', 'tpe_warm',
                                                     'keras_tuner'))
  measured = suite_experiment.measures(root, compared)['c']['variants']
  for method, row in rows.items():
    assert row['task'] == 'c' and row['seeds'] == '1'
    assert float(row['random / method']) == pytest.approx(
        np.mean(measured['random']['reach']) / np.mean(measured[method]['reach']))
    curve = suite_experiment.curve(compared, suite_experiment.held_out_dir(root, 'c', method, 0),
                                   'c')
    assert float(row['best after 8 mean']) == pytest.approx(curve[:8].max())
    assert float(row['best after 8 std']) == 0.0
    assert float(row['children to 99% mean']) == measured[method]['reach'][0]
  assert (tmp_path / 'search_vs_peers.png').stat().st_size > 0
  assert '| tpe_warm |' in (tmp_path / 'search_vs_peers.md').read_text()
  with pytest.raises(SystemExit) as bad:  # one line, as errors.exit_with prints it
    _compare(f'--root_dir={root}', f'--output_dir={tmp_path / "bad"}', methods=['optuna'])
  assert str(bad.value).startswith("reproduce: error: PeerComparison.methods: unknown "
                                   "['optuna']") and '\n' not in str(bad.value)
  assert not (tmp_path / 'bad').exists()
