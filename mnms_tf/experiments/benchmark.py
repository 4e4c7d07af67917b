"""The benchmark: the true accuracy of the model each method would deploy, every task held out.

  python -m mnms_tf.bin.benchmark [--scale=default|quick] [--root_dir=runs/benchmark]

A searcher sees one noisy draw per child, as in HPO-B, Syne Tune's benchmarking or
NAS-Bench-201; the benchmark scores the config it would deploy after n children by its
ground truth μ, the mean test accuracy over child seeds no search uses
(experiments/ground_truth.py), and reports normalized regret (experiments/regret.py).

Protocol (`Benchmark`, mnms_tf/gin/benchmark/*.gin): the tasks are cut into folds; each
fold is a suite experiment (experiments/suite.py) in ROOT/fold_K whose held-out tasks are
the fold's and whose controller (and value network, and portfolio) learns from the other
folds' tasks only, so every task is held out once. Every method is a search by the same
runner, with the same child seeds in each slot and the same budget. Stages, each resumable
(run the command again to continue) and skipped when done:
  1. the reference pool's ground truth: `pool_size` stratified random configs, the same
     for every task, `truth_seeds` children each (what μ_med(t) and the portfolio read);
  2. per fold: pre-training (when a method transfers), the value network (`suggested`),
     the zero-shot portfolio (`portfolio`: transfer/portfolio.py);
  3. seed by seed: every fold's held-out searches of that seed (a child another method
     trained in the same slot is answered from ROOT/children.sqlite), then the ground truth
     of every config a finished search deploys at any n;
  4. the report (experiments/figures/benchmark_report.py): paper_figures/benchmark_*.
μ*(t) is the best μ among the pool and the deployed configs; μ_med(t) the median pool μ.
"""
import collections
import dataclasses
import json
import os
import tarfile
import tempfile
from typing import Sequence

from absl import logging
import gin
import numpy as np

from mnms_tf.children import supernet
from mnms_tf import errors
from mnms_tf.experiments import ground_truth
from mnms_tf.experiments import regret
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite
from mnms_tf.search import child_cache
from mnms_tf.search import incumbent
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import portfolio as portfolio_lib
from mnms_tf.transfer import value_network

BENCHMARK = 'benchmark.json'
CHILD_CACHE = 'children.sqlite'  # the held-out searches' children (search/child_cache.py)
METHODS = ('random', 'scratch', 'transfer', 'warm_configs', 'suggested', 'portfolio', 'tpe',
           'tpe_warm', 'keras_tuner', 'smac', 'assisted', 'assisted_retrain')
BASELINE = 'random'
# What must be equal for stored searches and ground truth to be reused; the rest (seeds,
# methods, the report's settings) may grow or change between runs.
_FIXED = ('folds', 'held_out_iterations', 'pretraining_iterations', 'truth_seeds')


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Benchmark:
  """The benchmark's protocol and scale (module doc; defaults in mnms_tf/gin/benchmark/).

  folds: the held-out tasks of each fold; together, every task once.
  held_out_iterations: each held-out search's budget, in iterations of the runner's
    children_per_iteration.
  pretraining_iterations: each fold's pre-training search (over the other folds' tasks).
  pool_size / truth_seeds: the reference pool, and the seeds of every ground truth.
  checkpoints: the n at which regret is reported (and the whole budget).
  deploy_rules: method -> how it deploys (incumbent.RULES); default best_draw.
  compared_rules: every method is also scored deploying by each of these (their configs'
    ground truth is measured too), so that what a deployment rule alone is worth shows
    apart from the search that feeds it.
  """
  folds: Sequence[Sequence[str]]
  methods: Sequence[str] = METHODS
  seeds: int = 5
  held_out_iterations: int = 8
  pretraining_iterations: int = 280
  pool_size: int = 100
  truth_seeds: int = 5
  checkpoints: Sequence[int] = (1, 2, 4, 8, 16, 32)
  deploy_rules: dict = dataclasses.field(default_factory=dict, hash=False)
  compared_rules: Sequence[str] = (incumbent.BEST_DRAW, incumbent.SHRUNK_MEAN)
  bootstrap_resamples: int = 2000

  def __post_init__(self):
    object.__setattr__(self, 'folds', tuple(tuple(f) for f in self.folds))
    object.__setattr__(self, 'methods', tuple(self.methods))
    object.__setattr__(self, 'checkpoints', tuple(self.checkpoints))
    object.__setattr__(self, 'compared_rules', tuple(self.compared_rules))
    if len(self.folds) < 2:
      raise errors.UserError('Benchmark.folds: at least 2 folds, so that every fold has '
                             'tasks to learn from')
    if len(set(self.tasks)) != len(self.tasks):
      raise errors.UserError(f'Benchmark.folds holds a task twice: {list(self.folds)}')
    unknown = sorted(set(self.methods) - set(suite.VARIANTS))
    if unknown:
      raise errors.UserError(f'Benchmark.methods: unknown {unknown}; known: '
                             f'{list(suite.VARIANTS)}')
    bad_rules = {m: r for m, r in self.deploy_rules.items() if r not in incumbent.RULES}
    bad_rules.update({f'compared_rules[{i}]': r for i, r in enumerate(self.compared_rules)
                      if r not in incumbent.RULES})
    if bad_rules:
      raise errors.UserError(f'Benchmark.deploy_rules or compared_rules: {bad_rules}; rules: '
                             f'{list(incumbent.RULES)}')
    if self.truth_seeds < 2:
      raise errors.UserError('Benchmark.truth_seeds: at least 2 (a standard error needs 2)')

  @property
  def tasks(self):
    return [task for fold in self.folds for task in fold]

  def deploy_rule(self, method):
    return self.deploy_rules.get(method, incumbent.BEST_DRAW)

  def fold_protocol(self, index):
    held_out = self.folds[index]
    return suite.Protocol(
        pretraining_tasks=[t for t in self.tasks if t not in held_out],
        held_out_tasks=held_out, pretraining_iterations=self.pretraining_iterations,
        held_out_iterations=self.held_out_iterations, seeds=self.seeds, variants=self.methods)

  def save(self, root_dir):
    """ROOT/benchmark.json; refuses a root measured under another protocol."""
    path = os.path.join(root_dir, BENCHMARK)
    mine = json.loads(json.dumps(dataclasses.asdict(self)))
    if os.path.exists(path):
      with open(path) as f:
        stored = json.load(f)
      differs = [k for k in _FIXED if stored.get(k) != mine[k]]
      if differs:
        raise errors.UserError(f'{root_dir} holds a benchmark with other {", ".join(differs)} '
                               f'({", ".join(f"{k}={stored.get(k)}" for k in differs)}): use '
                               f'another --root_dir (nothing was changed)')
    os.makedirs(root_dir, exist_ok=True)
    with open(path + '.tmp', 'w') as f:
      json.dump(mine, f, indent=2)
    os.replace(path + '.tmp', path)


def fold_dir(root_dir, index):
  return os.path.join(root_dir, f'fold_{index}')


def _pretrains(methods):
  return any(suite.VARIANTS[m].get('transfer') or
             {'configs_from', 'hyperparameters_from'} & set(suite.VARIANTS[m])
             for m in methods)


def run(root_dir, benchmark, evaluator, task_features):
  """Stages 1-3 of the module doc on `evaluator`, resuming what is there."""
  evaluator.check_tasks(benchmark.tasks)
  benchmark.save(root_dir)
  pool = ground_truth.reference_pool(evaluator.space, benchmark.pool_size)
  logging.info('=== reference pool: %d configs x %d tasks x %d seeds ===', len(pool),
               len(benchmark.tasks), benchmark.truth_seeds)
  ground_truth.measure(root_dir, evaluator, [(t, c) for c in pool for t in benchmark.tasks],
                       benchmark.truth_seeds)
  folds = range(len(benchmark.folds))
  for index in folds:
    protocol, fold = benchmark.fold_protocol(index), fold_dir(root_dir, index)
    protocol.save(fold)
    if _pretrains(protocol.variants) and not _pretrained(fold, protocol):
      suite.pretrain(fold, protocol, evaluator, task_features)
    if 'portfolio' in protocol.variants:
      write_portfolio(root_dir, benchmark, index, evaluator.space)
  # Seed by seed over every fold, each seed's deployed configs measured before the next:
  # a benchmark stopped part-way (it spans sessions at its default scale) scores every
  # task and method at the seeds it finished. A child that another method proposed in
  # the same slot (the same seed) is not trained again.
  cached = child_cache.CachedChildren(os.path.join(root_dir, CHILD_CACHE), evaluator)
  try:
    for seed in range(benchmark.seeds):
      for index in folds:
        searches.run_here([job for job in suite.held_out_searches(
            fold_dir(root_dir, index), benchmark.fold_protocol(index))
                           if job.arguments['seed'] == seed and
                           not searches.finished(job.run_dir, job.iterations)],
                          cached, task_features)
      logging.info('=== seed %d of %d: the ground truth of the deployed configs (%d search '
                   'children so far answered from %s) ===', seed + 1, benchmark.seeds,
                   cached.reused, CHILD_CACHE)
      ground_truth.measure(root_dir, evaluator, deployed_configs(root_dir, benchmark),
                           benchmark.truth_seeds)
  finally:
    cached.close()


def _pretrained(fold, protocol):
  """Whether the fold's pre-training (and value network, if a method needs it) is done: a
  restored state's is not fitted again (its record names the directories it came from)."""
  if not searches.finished(os.path.join(fold, suite.PRETRAIN), protocol.pretraining_iterations):
    return False
  if suite.reads_architectures(protocol.variants) and not os.path.exists(os.path.join(
      fold, suite.ARCHITECTURES, supernet.META, supernet.ARCHITECTURE_FILE)):
    return False
  if not suite.reads_value_network(protocol.variants):
    return True
  model_dir = os.path.join(fold, suite.VALUE_NETWORK)
  if not os.path.exists(os.path.join(model_dir, value_network.INFO)):
    return False
  network = value_network.load(model_dir)
  return int(network.epoch) >= network.settings.epochs


def save_state(root_dir, benchmark, path):
  """A compressed archive of what continuing the benchmark on another machine needs and
  would cost hours to redo: the protocol, the ground truth, each fold's pre-training (with
  its checkpoints), value network, portfolio and architecture searches, and every finished
  held-out search's record (run.json, gin, trials; not its checkpoints, which a finished
  search no longer reads). SQLite files go in as consistent snapshots, so it may be saved while the
  benchmark runs. Returns the number of finished searches in it."""
  finished = [job.run_dir for index in range(len(benchmark.folds))
              for job in suite.held_out_searches(fold_dir(root_dir, index),
                                                 benchmark.fold_protocol(index))
              if searches.finished(job.run_dir, job.iterations)]
  files = [BENCHMARK, ground_truth.FILENAME]
  for index in range(len(benchmark.folds)):
    fold = fold_dir(root_dir, index)
    files += [os.path.join(fold, name) for name in (suite.PROTOCOL, suite.PORTFOLIO)]
    for name in (suite.PRETRAIN, suite.VALUE_NETWORK, suite.ARCHITECTURES):
      for directory, subdirectories, names in os.walk(os.path.join(fold, name)):
        subdirectories[:] = [d for d in subdirectories if d != run_dir_lib.TENSORBOARD]
        files += [os.path.join(directory, n) for n in names if n != run_dir_lib.LOCK and
                  not n.endswith(('-wal', '-shm', '.tmp'))]
  for run in finished:
    files += [os.path.join(run, name) for name in (run_dir_lib.RUN_INFO, run_dir_lib.CONFIG_GIN,
                                                   run_dir_lib.OPERATIVE_GIN,
                                                   store_lib.FILENAME)]
  with tempfile.TemporaryDirectory() as staging, tarfile.open(path + '.tmp', 'w:gz') as tar:
    for file in files:
      source = os.path.join(root_dir, file)
      if not os.path.exists(source):
        continue
      if source.endswith('.sqlite'):
        copy, source = source, os.path.join(staging, 'snapshot.sqlite')
        store_lib.snapshot(copy, source)
      tar.add(source, arcname=os.path.relpath(os.path.join(root_dir, file), root_dir))
  os.replace(path + '.tmp', path)
  return len(finished)


def restore_state(path, root_dir):
  """Unpacks a `save_state` archive into a new root directory (one without a benchmark,
  so that nothing stored is mixed with it or changed)."""
  if os.path.exists(os.path.join(root_dir, BENCHMARK)):
    raise errors.UserError(f'{root_dir} holds a benchmark already: a saved state starts a '
                           f'new root directory only (nothing was changed)')
  try:
    with tarfile.open(path) as tar:
      tar.extractall(root_dir, filter='data')
  except (OSError, tarfile.TarError) as e:
    raise errors.UserError(f'{path} is not a saved benchmark state ({e})') from e


def write_portfolio(root_dir, benchmark, index, space):
  """ROOT/fold_K/portfolio.json from the pool's ground truth on fold K's pre-training
  tasks (never its held-out ones), as many configs as the method evaluates first."""
  protocol = benchmark.fold_protocol(index)
  path = os.path.join(fold_dir(root_dir, index), suite.PORTFOLIO)
  pool = {space.config_hash(c) for c in ground_truth.reference_pool(space, benchmark.pool_size)}
  with ground_truth.GroundTruthStore(root_dir, read_only=True) as store:
    truths = {t: {h: v for h, v in store.truths(t, benchmark.truth_seeds).items() if h in pool}
              for t in protocol.pretraining_tasks}
  size = suite.VARIANTS['portfolio']['num_initial_configs']
  portfolio_lib.write(path, portfolio_lib.build(truths, size), protocol.pretraining_tasks)


@dataclasses.dataclass(frozen=True)
class Search:
  """A finished held-out search, cut to its budget: per child, its config hash and config,
  validation draw (0 if it failed) and child-seconds; the controller's own training for
  the task (a differentiable search's supernet) counts with the first child."""
  task: str
  method: str
  seed: int
  hashes: list
  configs: list
  val: np.ndarray
  seconds: np.ndarray


def finished_searches(root_dir, benchmark):
  """Every finished held-out search of the benchmark (an unfinished one is left out)."""
  found = []
  for index in range(len(benchmark.folds)):
    fold, protocol = fold_dir(root_dir, index), benchmark.fold_protocol(index)
    for task in protocol.held_out_tasks:
      for method in protocol.variants:
        for seed in range(protocol.seeds):
          run = suite.held_out_dir(fold, task, method, seed)
          if not searches.finished(run, protocol.held_out_iterations):
            continue
          with store_lib.TrialStore(run, read_only=True) as store:
            rows = store.trials(task=task)[:suite.budget_children(protocol, run)]
            seconds = np.array([r['seconds'] for r in rows])
            seconds[:1] += store.controller_seconds().get(task, 0.0)
          ok = [r['status'] == store_lib.OK for r in rows]
          found.append(Search(task, method, seed, [r['config_hash'] for r in rows],
                              [r['config'] for r in rows],
                              np.array([r['val_accuracy'] if o else 0.0
                                        for r, o in zip(rows, ok)]),
                              seconds))
  return found


def deployed_configs(root_dir, benchmark):
  """[(task, config)] every finished search deploys after some n (by its method's rule
  and by each compared rule)."""
  wanted = {}
  for s in finished_searches(root_dir, benchmark):
    by_hash = dict(zip(s.hashes, s.configs))
    for rule in dict.fromkeys([benchmark.deploy_rule(s.method), *benchmark.compared_rules]):
      for h in incumbent.deployed(s.hashes, s.val, rule):
        wanted.setdefault((s.task, h), by_hash[h])
  return [(task, config) for (task, _), config in wanted.items()]


@dataclasses.dataclass(frozen=True)
class TaskTruth:
  """What a task's regret is measured against, and its noise floor."""
  truths: dict        # config hash -> ground_truth.Truth (pool and deployed)
  mu_star: float
  mu_median: float
  mu_se: float        # the median standard error of μ over the pool
  draw_std_val: float   # the median seed spread of one validation draw over the pool
  draw_std_test: float
  child_seconds: float  # the median pool child's seconds: one child-equivalent

  @property
  def regret_floor(self):
    """The standard error of μ in regret units."""
    spread = self.mu_star - self.mu_median
    return self.mu_se / spread if spread > 0 else float('nan')


def task_truths(root_dir, benchmark, space):
  """task -> TaskTruth, for the tasks whose reference pool is measured."""
  pool = [space.config_hash(c) for c in ground_truth.reference_pool(space, benchmark.pool_size)]
  result = {}
  with ground_truth.GroundTruthStore(root_dir, read_only=True) as store:
    for task in benchmark.tasks:
      truths = store.truths(task, benchmark.truth_seeds)
      measured = [truths[h] for h in pool if h in truths]
      if len(measured) < len(pool):
        logging.warning('%s: %d of %d pool configs measured; left out', task, len(measured),
                        len(pool))
        continue
      result[task] = TaskTruth(
          truths=truths, mu_star=max(t.test for t in truths.values()),
          mu_median=float(np.median([t.test for t in measured])),
          mu_se=float(np.median([t.test_se for t in measured])),
          draw_std_val=float(np.median([t.val_std for t in measured])),
          draw_std_test=float(np.median([t.test_std for t in measured])),
          child_seconds=float(np.median([t.seconds for t in measured])))
  return result


def report_points(checkpoints, budget):
  """The n at which regret is reported: the checkpoints within the budget, and it."""
  return [n for n in checkpoints if n < budget] + [budget]


@dataclasses.dataclass(frozen=True)
class Scored:
  """One search's measures: regret after each child and at each child-equivalent budget,
  its area, the children until the deployed μ is within tolerance of μ*, and how far the
  first deployed config's μ is below μ* (accuracy; for `suggested`, the value network's
  top suggestion)."""
  task: str
  method: str
  seed: int
  regret: np.ndarray
  regret_by_seconds: np.ndarray
  area: float
  reach: int
  reached: bool
  first_gap: float


def score(search, truth, rule, checkpoints):
  """Scored for one finished search (None if a deployed config has no ground truth yet)."""
  chosen = incumbent.deployed(search.hashes, search.val, rule)
  if any(h not in truth.truths for h in chosen):
    return None
  mu = np.array([truth.truths[h].test for h in chosen])
  curve = regret.normalized_regret(mu, truth.mu_star, truth.mu_median)
  grid = truth.child_seconds * np.array(report_points(checkpoints, len(chosen)))
  reach, reached = regret.children_to_within(
      mu, truth.mu_star, [max(0.01, truth.truths[h].test_se) for h in chosen])
  return Scored(search.task, search.method, search.seed, curve,
                regret.at_seconds(curve, search.seconds, grid), regret.area(curve), reach,
                reached, truth.mu_star - mu[0])


def scores(root_dir, benchmark, space, rule=None):
  """(task -> TaskTruth, [Scored] of the (task, seed) pairs every method has finished),
  each method deploying by its own rule, or by `rule`."""
  truths = task_truths(root_dir, benchmark, space)
  scored = collections.defaultdict(dict)
  missing = 0
  for s in finished_searches(root_dir, benchmark):
    if s.task in truths:
      measured = score(s, truths[s.task], rule or benchmark.deploy_rule(s.method),
                       benchmark.checkpoints)
      if measured is None:
        missing += 1
      else:
        scored[(s.task, s.seed)][s.method] = measured
  if missing:
    logging.warning('%d searches deploy configs without ground truth yet: left out (run the '
                    'benchmark again to measure them)', missing)
  complete = [by_method[m] for pair, by_method in sorted(scored.items())
              if set(benchmark.methods) <= set(by_method) for m in benchmark.methods]
  return truths, complete
