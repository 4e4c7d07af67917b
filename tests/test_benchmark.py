"""The benchmark: its measures on hand-computed numbers, the ground-truth store, the zero-shot
portfolio, and the whole protocol on noisy synthetic children whose true values are known."""
import csv
import os
import sqlite3

import numpy as np
import pytest

import conftest
from mnms_tf import errors
from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.evaluation import synthetic
from mnms_tf.experiments import benchmark as benchmark_lib
from mnms_tf.experiments import ground_truth
from mnms_tf.experiments import regret
from mnms_tf.experiments import suite
from mnms_tf.experiments.figures import benchmark_report
from mnms_tf.experiments.figures import report
from mnms_tf.search import child_cache
from mnms_tf.search import incumbent
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import portfolio


def test_deployed_by_best_draw_and_by_best_mean():
  hashes, val = ['a', 'b', 'c', 'a'], [0.5, 0.7, 0.7, 0.9]
  assert incumbent.deployed(hashes, val) == ['a', 'b', 'b', 'a']  # the first of a tie stays
  hashes, val = ['a', 'b', 'a', 'b'], [0.9, 0.8, 0.5, 0.8]
  assert incumbent.deployed(hashes, val, incumbent.BEST_DRAW) == ['a', 'a', 'a', 'a']
  # means: a 0.9 | a 0.9, b 0.8 | a 0.7, b 0.8 | a 0.7, b 0.8
  assert incumbent.deployed(hashes, val, incumbent.BEST_MEAN) == ['a', 'a', 'b', 'b']
  # equal means: the config drawn more often
  assert incumbent.deployed(['a', 'b', 'b'], [0.6, 0.6, 0.6], incumbent.BEST_MEAN) == ['a', 'a', 'b']
  with pytest.raises(ValueError, match='deploy rule'):
    incumbent.deployed(hashes, val, 'luckiest')


def test_normalized_regret_and_reading_curves_at_children_and_seconds():
  assert regret.normalized_regret([0.9, 0.8, 0.7, 0.6], 0.9, 0.7) == pytest.approx(
      [0.0, 0.5, 1.0, 1.5])
  assert list(regret.normalized_regret([0.5, 0.5], 0.5, 0.5)) == [0.0, 0.0]
  assert list(regret.at_children([0.9, 0.5, 0.2], [1, 2, 4])) == [0.9, 0.5, 0.2]
  # children finish at 2, 3 and 6 child-seconds
  assert list(regret.at_seconds([0.8, 0.5, 0.2], [2.0, 1.0, 3.0], [1, 2, 3, 5, 10])) == [
      1.0, 0.8, 0.5, 0.5, 0.2]
  assert regret.area([1.0, 0.5, 0.0]) == pytest.approx(0.5)


def test_children_to_within_tolerance_is_censored_when_never_within():
  assert regret.children_to_within([0.7, 0.8, 0.895], 0.9, [0.01] * 3) == (3, True)
  assert regret.children_to_within([0.7, 0.8, 0.895], 0.9, [0.0] * 3) == (3, False)
  assert regret.children_to_within([0.7, 0.85], 0.9, [0.01, 0.06]) == (2, True)


def test_average_ranks_share_ties():
  # pair 1: ranks 1, 2, 3; pair 2: 2.5, 2.5, 1
  ranks = regret.average_ranks([[0.1, 0.5], [0.2, 0.5], [0.3, 0.1]])
  assert list(ranks) == [1.75, 2.25, 2.0]


def test_win_rate_counts_ties_half_and_its_interval_holds_it():
  rate, low, high = regret.win_rate([0.1, 0.2, 0.3], [0.2, 0.2, 0.1])
  assert rate == pytest.approx(0.5) and 0.0 <= low <= 0.5 <= high <= 1.0
  assert regret.win_rate(np.zeros(20), np.ones(20)) == (1.0, 1.0, 1.0)
  mean, low, high = regret.bootstrap_mean(np.arange(10.0))
  assert mean == 4.5 and 2.0 < low < 4.5 < high < 7.0


def test_reference_pool_is_balanced_valid_the_same_each_time_and_prefix_stable():
  space = search_space.SearchSpace()
  pool = ground_truth.reference_pool(space, 100)
  assert pool == ground_truth.reference_pool(space, 100)
  assert ground_truth.reference_pool(space, 30) == pool[:30]
  for key, choices in space.choices.items():
    counts = [sum(search_space.to_json(c[key]) == search_space.to_json(v) for c in pool)
              for v in choices]
    assert max(counts) - min(counts) <= 2, key  # a skipped duplicate may unbalance by one
  assert all(space.validate(c) == c for c in pool)
  assert len({space.config_hash(c) for c in pool}) == 100  # distinct children


def test_portfolio_first_takes_the_config_good_on_every_task():
  # config 2 is nowhere the best, but second on both tasks; then the best of task 0
  scores = [[0.9, 0.5, 0.85, 0.6], [0.5, 0.9, 0.85, 0.6]]
  assert portfolio.greedy(scores, 3) == [2, 0, 1]
  assert portfolio.greedy(scores, 10) == [2, 0, 1, 3]
  assert np.all(portfolio.normalized([[0.5, 0.5]]) == 0.0)


def _noisy(noise):
  return synthetic.AccuracyLike(noise=noise)


def _truth_of(accuracy, target, config, space):
  """The expected accuracy of a synthetic child: its value without noise."""
  clean = synthetic.AccuracyLike(importance=accuracy.importance, chance=accuracy.chance,
                                 ceiling=accuracy.ceiling, noise=0.0)
  return clean(target, space.to_actions(config), seed=0)


def test_ground_truth_trains_only_what_is_missing_and_refuses_other_children(tmp_path):
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  accuracy = _noisy(0.05)
  evaluator = synthetic.SyntheticChildren(targets, accuracy=accuracy)
  space = evaluator.space
  pool = ground_truth.reference_pool(space, 12)
  root = str(tmp_path)
  wanted = [(t, c) for c in pool[:6] for t in ('a', 'b')]
  assert ground_truth.measure(root, evaluator, wanted, seeds=4) == 6 * 2 * 4
  assert ground_truth.measure(root, evaluator, wanted, seeds=4) == 0
  more = wanted + [('a', c) for c in pool[6:]]  # grows: only the new ones train
  assert ground_truth.measure(root, evaluator, more, seeds=4) == 6 * 4
  with ground_truth.GroundTruthStore(root, read_only=True) as store:
    truths = store.truths('a', 4)
    assert len(truths) == 12 and store.count() == 18 * 4
    assert len(store.truths('a', 5)) == 0  # no config has 5 seeds yet
  truth = truths[space.config_hash(pool[0])]
  draws = [accuracy(targets['a'], space.to_actions(pool[0]), ground_truth.truth_seed(i))
           for i in range(4)]
  assert truth.test == pytest.approx(np.mean(draws)) and truth.seeds == 4
  assert truth.test_se == pytest.approx(np.std(draws, ddof=1) / 2)
  other = synthetic.SyntheticChildren(targets, accuracy=_noisy(0.2))
  with pytest.raises(ground_truth.StoreError, match='measured with another accuracy'):
    ground_truth.measure(root, other, wanted, seeds=4)


def test_truth_seeds_are_not_a_search_s_child_seeds():
  truth = {ground_truth.truth_seed(i) for i in range(50)}
  searches = {runner.child_seed(seed, i, slot) for seed in range(20) for i in range(50)
              for slot in range(8)}
  assert len(truth) == 50 and not truth & searches


def test_deploying_by_best_mean_beats_the_best_draw_under_heavy_noise(tmp_path):
  """Random search over a small space trains each config several times; with noise of 0.15
  (three times the spread of the true values) its luckiest draw is a worse pick than its
  best-mean config, scored by the true values."""
  space = search_space.SearchSpace(choices={'embedding': (0, 1, 2), 'trainable': (0, 1, 2),
                                            'nlayers': (0, 1, 2)}, inactive={})
  accuracy = synthetic.AccuracyLike(importance=(2.0, 1.0, 1.0), chance=0.6, ceiling=0.75,
                                    noise=0.15)
  targets = {'t': [2, 1, 0]}
  evaluator = synthetic.SyntheticChildren(targets, accuracy=accuracy, space=space)
  configs = [space.to_config(a) for a in np.ndindex(*space.sizes)]
  truths = {space.config_hash(c): ground_truth.Truth(
      config=c, test=_truth_of(accuracy, targets['t'], c, space), val=0.0, test_std=0.0,
      val_std=0.0, seeds=5, seconds=1.0) for c in configs}
  values = [t.test for t in truths.values()]
  truth = benchmark_lib.TaskTruth(truths, max(values), float(np.median(values)), 0.0, 0.0, 0.0,
                                  1.0)
  by_rule = {rule: [] for rule in incumbent.RULES}
  for seed in range(12):
    run = str(tmp_path / f'seed_{seed}')
    runner.search(run, runner.Budget(6), evaluator, tasks=['t'], seed=seed,
                  create_controller=_random())
    from mnms_tf.search import store as store_lib  # pylint: disable=import-outside-toplevel
    with store_lib.TrialStore(run, read_only=True) as store:
      rows = store.trials()
    search = benchmark_lib.Search('t', 'random', seed, [r['config_hash'] for r in rows],
                                  [r['config'] for r in rows],
                                  np.array([r['val_accuracy'] for r in rows]),
                                  np.array([r['seconds'] for r in rows]))
    for rule in incumbent.RULES:
      by_rule[rule].append(benchmark_lib.score(search, truth, rule, (8, 32)).regret[-1])
  assert np.mean(by_rule[incumbent.BEST_MEAN]) < np.mean(by_rule[incumbent.BEST_DRAW])
  assert regret.win_rate(by_rule[incumbent.BEST_MEAN], by_rule[incumbent.BEST_DRAW])[0] > 0.5


def _random():
  from mnms_tf.controllers import factory  # pylint: disable=import-outside-toplevel
  return factory.ControllerFactory(kind='random')


def test_a_portfolio_start_needs_its_file_and_a_bad_file_is_one_line(tmp_path):
  evaluator = synthetic.SyntheticChildren(synthetic.example_targets(
      search_space.SearchSpace().sizes))
  with pytest.raises(runner.RunDirError, match="'portfolio' and search.portfolio go together"):
    runner.search(str(tmp_path / 'a'), runner.Budget(1), evaluator, tasks=['a'],
                  initial_configs='portfolio')
  (tmp_path / 'bad.json').write_text('{"config": []}')
  with pytest.raises(errors.UserError, match='is not a portfolio file'):
    runner.search(str(tmp_path / 'b'), runner.Budget(1), evaluator, tasks=['a'],
                  initial_configs='portfolio', portfolio=str(tmp_path / 'bad.json'))


def test_benchmark_refuses_bad_protocols_and_another_root(tmp_path):
  with pytest.raises(errors.UserError, match='at least 2 folds'):
    benchmark_lib.Benchmark(folds=[['a', 'b']])
  with pytest.raises(errors.UserError, match='holds a task twice'):
    benchmark_lib.Benchmark(folds=[['a'], ['a', 'b']])
  with pytest.raises(errors.UserError, match=r"unknown \['smarter'\]"):
    benchmark_lib.Benchmark(folds=[['a'], ['b']], methods=['random', 'smarter'])
  with pytest.raises(errors.UserError, match='deploy_rules'):
    benchmark_lib.Benchmark(folds=[['a'], ['b']], deploy_rules={'random': 'luckiest'})
  benchmark_lib.Benchmark(folds=[['a'], ['b']], seeds=2).save(str(tmp_path))
  benchmark_lib.Benchmark(folds=[['a'], ['b']], seeds=3).save(str(tmp_path))  # seeds grow
  with pytest.raises(errors.UserError, match='other held_out_iterations'):
    benchmark_lib.Benchmark(folds=[['a'], ['b']], held_out_iterations=3).save(str(tmp_path))


FOLDS = [['a', 'c'], ['b', 'd']]


def test_the_benchmark_finishes_and_measures_a_seed_on_every_fold_before_the_next(tmp_path):
  """So that a benchmark stopped part-way scores every task at the seeds it finished."""
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  targets['d'] = targets['b']
  evaluator = synthetic.SyntheticChildren(targets, accuracy=_noisy(0.03))
  bench = benchmark_lib.Benchmark(folds=FOLDS, methods=['random'], seeds=2,
                                  held_out_iterations=1, pool_size=4, truth_seeds=2)
  root = str(tmp_path)
  benchmark_lib.run(root, bench, evaluator, synthetic.SyntheticTaskFeatures(targets))
  times = {0: [], 1: []}  # seed -> [(started, finished)] of its searches' children
  for index, fold in enumerate(FOLDS):
    for task in fold:
      for seed in times:
        with store_lib.TrialStore(suite.held_out_dir(benchmark_lib.fold_dir(root, index), task,
                                                     'random', seed), read_only=True) as store:
          times[seed] += [(r['started_at'], r['finished_at']) for r in store.trials()]
  seed_1_starts = min(started for started, _ in times[1])
  assert max(finished for _, finished in times[0]) <= seed_1_starts
  seed_0 = [s for s in benchmark_lib.finished_searches(root, bench) if s.seed == 0]
  deployed = {(s.task, h) for s in seed_0 for rule in bench.compared_rules
              for h in incumbent.deployed(s.hashes, s.val, rule)}
  with sqlite3.connect(os.path.join(root, ground_truth.FILENAME)) as db:
    rows = [(task, h, finished) for task, h, finished in db.execute(
        'SELECT task, config_hash, finished_at FROM children') if (task, h) in deployed]
  assert len(rows) == bench.truth_seeds * len(deployed)
  assert max(finished for _, _, finished in rows) <= seed_1_starts


@pytest.fixture(scope='module')
def synthetic_benchmark(tmp_path_factory):
  """Six methods (random, a transfer, the value network's, the portfolio, warm TPE and the
  model-assisted MNMS that re-trains, deployed by shrunk mean: each kind of start and of
  deployment) on 4 synthetic tasks in 2 folds, noisy children, one seed, 16 children per
  search."""
  sizes = search_space.SearchSpace().sizes
  targets = synthetic.example_targets(sizes)
  targets['d'] = [0] * (len(sizes) - 1) + [1]  # b's kind
  evaluator = synthetic.SyntheticChildren(targets, accuracy=_noisy(0.03))
  bench = benchmark_lib.Benchmark(
      folds=FOLDS, methods=['random', 'transfer', 'suggested', 'portfolio', 'tpe_warm',
                            'assisted_retrain'],
      seeds=1, held_out_iterations=2, pretraining_iterations=6, pool_size=24, truth_seeds=3,
      deploy_rules={'assisted_retrain': 'shrunk_mean'}, bootstrap_resamples=200)
  root = str(tmp_path_factory.mktemp('benchmark'))
  benchmark_lib.run(root, bench, evaluator, synthetic.SyntheticTaskFeatures(targets))
  return root, bench, evaluator, targets


@pytest.mark.slow  # 24 synthetic searches, 2 pre-trainings and value networks
def test_the_benchmark_scores_every_method_on_every_task_with_the_portfolio_from_other_folds(
    synthetic_benchmark, tmp_path):
  root, bench, evaluator, targets = synthetic_benchmark
  space = evaluator.space
  searches = benchmark_lib.finished_searches(root, bench)
  assert len(searches) == 4 * len(bench.methods)
  by_slot = {}
  for s in searches:  # the same child seeds in each slot for every method
    assert len(s.hashes) == 16
    by_slot.setdefault((s.task, s.seed), set()).add(s.method)
  assert all(len(m) == len(bench.methods) for m in by_slot.values())
  # each fold's portfolio comes from the other fold's ground truth only
  for index, fold in enumerate(FOLDS):
    with open(os.path.join(benchmark_lib.fold_dir(root, index), suite.PORTFOLIO)) as f:
      import json  # pylint: disable=import-outside-toplevel
      stored = json.load(f)
    assert stored['tasks'] == sorted(t for t in targets if t not in fold)
    assert len(stored['configs']) == 8
    for task in fold:  # and its search evaluates it first
      first = [s for s in searches if s.task == task and s.method == 'portfolio'][0]
      assert first.configs[:8] == stored['configs']
  # every deployed config has its ground truth, so every search is scored
  truths, scored = benchmark_lib.scores(root, bench, space)
  assert len(scored) == len(searches)
  for task, truth in truths.items():
    for h, t in truth.truths.items():  # μ is the mean of noisy draws of the true value
      assert t.test == pytest.approx(_truth_of(evaluator.accuracy, targets[task], t.config,
                                               space), abs=0.06)
    assert truth.mu_star >= truth.mu_median
  assert all(s.regret.min() >= 0 for s in scored)
  by_key = {(s.task, s.method, s.seed): s for s in searches}
  for s in scored:
    # the first model's gap (for `suggested`, the value network's top suggestion's)
    truth, search = truths[s.task], by_key[(s.task, s.method, s.seed)]
    assert s.first_gap == pytest.approx(truth.mu_star - truth.truths[search.hashes[0]].test)
  for fold in range(len(FOLDS)):  # (2 iterations, pipelined: too few to re-train in)
    info = run_dir_lib.read_info(suite.held_out_dir(benchmark_lib.fold_dir(root, fold),
                                                    FOLDS[fold][0], 'assisted_retrain', 0))
    assert (info['retrain_slots'], info['candidates_per_slot']) == (2, 16)
  out = str(tmp_path / 'report')
  lines = benchmark_report.make(root, bench, space, out)
  with open(os.path.join(out, 'benchmark_summary.csv')) as f:
    rows = list(csv.DictReader(f))
  assert [r['method'] for r in rows] == list(bench.methods)
  for n in (1, 2, 4, 8, 16):
    for row in rows:
      assert float(row[f'regret_at_{n}_lo']) <= float(row[f'regret_at_{n}']) <= float(
          row[f'regret_at_{n}_hi'])
  assert {'rank_at_8', 'win_rate_vs_random_at_16', 'tasks', 'seeds'} <= set(rows[0])
  assert rows[0]['tasks'] == '4' and rows[0]['seeds'] == '1'
  assert all(0 <= int(r['first_within_1_point']) <= 4 for r in rows)
  ranks = [float(r['rank_at_8']) for r in rows]
  assert np.mean(ranks) == pytest.approx((len(rows) + 1) / 2)
  with open(os.path.join(out, 'benchmark_rules.csv')) as f:
    by_rule = {(r['method'], r['rule']): r for r in csv.DictReader(f)}
  assert set(by_rule) == {(m, r) for m in bench.methods for r in bench.compared_rules}
  for method in bench.methods:  # its own rule deploys the same configs: a tie, always
    assert float(by_rule[(method, bench.deploy_rule(method))]['win_rate_vs_own_rule_at_16']) == 0.5
  for name in ('benchmark_tasks.csv', 'benchmark.md', 'benchmark_summary.png',
               'benchmark_tasks.png'):
    assert os.path.getsize(os.path.join(out, name)) > 0
  assert any(line.startswith('Indistinguishable at 16 children') for line in lines)
  text = open(os.path.join(out, 'REPORT.md')).read()
  assert text.startswith(report.BENCHMARK_HEADING) and '| suggested |' in text
  # run again: nothing is trained twice
  with ground_truth.GroundTruthStore(root, read_only=True) as store:
    before = store.count()
  benchmark_lib.run(root, bench, evaluator, synthetic.SyntheticTaskFeatures(targets))
  with ground_truth.GroundTruthStore(root, read_only=True) as store:
    assert store.count() == before


def test_the_binary_refuses_an_unknown_method_in_one_line_and_writes_nothing(tmp_path):
  root = tmp_path / 'bench'
  result = conftest.run_binary('mnms_tf.bin.benchmark', '--scale=quick', f'--root_dir={root}',
                               "--gin_bindings=Benchmark.methods = ['random', 'smarter']")
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith(
      "benchmark: error: Benchmark.methods: unknown ['smarter']")
  assert not root.exists()


def test_a_new_root_starts_from_another_roots_ground_truth_and_an_old_one_is_refused(tmp_path):
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  evaluator = synthetic.SyntheticChildren(targets, accuracy=_noisy(0.05))
  shipped = tmp_path / 'shipped'
  pool = ground_truth.reference_pool(evaluator.space, 4)
  ground_truth.measure(str(shipped), evaluator, [('a', c) for c in pool], seeds=2)
  root = tmp_path / 'bench'
  result = conftest.run_binary(
      'mnms_tf.bin.benchmark', '--scale=quick', f'--root_dir={root}', '--skip_search',
      f'--ground_truth_from={shipped / ground_truth.FILENAME}')
  assert result.returncode == 1  # nothing searched yet: the report says so in one line
  assert result.stderr.strip().splitlines()[-1].startswith('benchmark: error: No (task, seed)')
  with ground_truth.GroundTruthStore(str(root), read_only=True) as store:
    assert store.count() == 8 and len(store.truths('a', 2)) == 4
  again = conftest.run_binary(
      'mnms_tf.bin.benchmark', '--scale=quick', f'--root_dir={root}', '--skip_search',
      f'--ground_truth_from={shipped / ground_truth.FILENAME}')
  assert again.stderr.strip().splitlines()[-1].endswith(
      'starts a new root directory only (nothing was changed)')


def test_report_sections_replace_their_own_and_keep_the_others_in_order(tmp_path):
  (tmp_path / report.FILENAME).write_text('# paper\n\n## 1. Claims\nkept\n')
  report.write_section(str(tmp_path), [report.BENCHMARK_HEADING, 'first'])
  report.write_section(str(tmp_path), [report.SUITE_HEADING, 'suite', '### sub', 'more'])
  report.write_section(str(tmp_path), [report.BENCHMARK_HEADING, 'second'])
  assert (tmp_path / report.FILENAME).read_text() == (
      f'# paper\n\n## 1. Claims\nkept\n\n{report.SUITE_HEADING}\nsuite\n### sub\nmore\n\n'
      f'{report.BENCHMARK_HEADING}\nsecond\n')
  with pytest.raises(ValueError, match='starts with one of'):
    report.write_section(str(tmp_path), ['## 8. Mine'])


class _Counting(synthetic.SyntheticChildren):
  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.submitted = 0

  def submit(self, key, job):
    self.submitted += 1
    super().submit(key, job)


def test_the_child_cache_keeps_successes_only_and_refuses_other_children(tmp_path):
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  trained = []

  class FailsFirst(synthetic.SyntheticChildren):
    def _score(self, task, config, seed):
      trained.append(seed)
      result = super()._score(task, config, seed)
      return result_lib.failed(result, 'NaN loss', 0.0) if len(trained) == 1 else result

  evaluator = FailsFirst(targets, accuracy=_noisy(0.05))
  config = evaluator.space.sample(np.random.default_rng(0))
  path = str(tmp_path / 'children.sqlite')
  cached = child_cache.CachedChildren(path, evaluator)
  first = [r for _, r, _ in cached.run([('a', config, 3)])]
  again = [r for _, r, _ in cached.run([('a', config, 3), ('a', config, 4)])]
  third = [r for _, r, _ in cached.run([('a', config, 4), ('a', config, 3)])]
  assert first[0].status == 'failed' and [r.status for r in again + third] == ['ok'] * 4
  assert trained == [3, 3, 4] and cached.reused == 2  # the failure was trained again, once
  assert [r.to_json() for r in third] == [r.to_json() for r in again[::-1]]
  cached.close()
  other = synthetic.SyntheticChildren({'a': targets['b']})
  with pytest.raises(store_lib.StoreError, match='another trainer or on other data'):
    child_cache.CachedChildren(path, other).submit(0, ('a', config, 3))


def test_a_child_another_method_trained_in_its_slot_is_not_trained_again(tmp_path):
  """The portfolio's random search after its first iteration is random search's: each
  distinct child of the two methods is trained once, and both store it."""
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  targets['d'] = targets['b']
  trained = []

  class Recording(synthetic.SyntheticChildren):
    def submit(self, key, job):
      trained.append(job)
      super().submit(key, job)

  evaluator = Recording(targets, accuracy=_noisy(0.03))
  bench = benchmark_lib.Benchmark(folds=FOLDS, methods=['random', 'portfolio'], seeds=1,
                                  held_out_iterations=2, pool_size=8, truth_seeds=2)
  root = str(tmp_path)
  benchmark_lib.run(root, bench, evaluator, synthetic.SyntheticTaskFeatures(targets))
  truth_seeds = {ground_truth.truth_seed(i) for i in range(bench.truth_seeds)}
  searched = [(t, evaluator.space.config_hash(c), s) for t, c, s in trained
              if s not in truth_seeds]
  stored = []
  for s in benchmark_lib.finished_searches(root, bench):
    fold = benchmark_lib.fold_dir(root, 0 if s.task in FOLDS[0] else 1)
    with store_lib.TrialStore(suite.held_out_dir(fold, s.task, s.method, s.seed),
                              read_only=True) as store:
      stored += [(r['task'], r['config_hash'], r['seed']) for r in store.trials()]
  assert len(stored) == 4 * 2 * 16
  assert sorted(searched) == sorted(set(stored)) and len(searched) < len(stored)
  by_method = {(s.task, s.method): s for s in benchmark_lib.finished_searches(root, bench)}
  for task in ('a', 'b', 'c', 'd'):  # the same children, so the same draws
    np.testing.assert_array_equal(by_method[(task, 'portfolio')].val[8:],
                                  by_method[(task, 'random')].val[8:])


@pytest.mark.slow  # the synthetic benchmark fixture
def test_a_saved_state_continues_on_a_new_root_with_nothing_trained_again(
    synthetic_benchmark, tmp_path):
  root, bench, evaluator, targets = synthetic_benchmark
  state = str(tmp_path / 'state.tar.gz')
  assert benchmark_lib.save_state(root, bench, state) == 4 * len(bench.methods)
  elsewhere = str(tmp_path / 'elsewhere')
  benchmark_lib.restore_state(state, elsewhere)
  assert not any('checkpoints' in d and 'seed_' in d for d, _, _ in os.walk(elsewhere))
  counting = _Counting(targets, accuracy=evaluator.accuracy)
  benchmark_lib.run(elsewhere, bench, counting, synthetic.SyntheticTaskFeatures(targets))
  assert counting.submitted == 0
  _, here = benchmark_lib.scores(root, bench, evaluator.space)
  _, there = benchmark_lib.scores(elsewhere, bench, evaluator.space)
  assert [list(s.regret) for s in here] == [list(s.regret) for s in there]
  with pytest.raises(errors.UserError, match='holds a benchmark already'):
    benchmark_lib.restore_state(state, elsewhere)
