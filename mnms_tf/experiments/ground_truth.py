"""Ground truth: what a config really scores on a task, not what one lucky child drew.

μ(c, t) is the mean test accuracy of config c on task t over `seeds` child seeds that no
search uses (`truth_seed`; a search's children are seeded by (search seed, iteration,
slot)), the same seeds for every config so that configs are compared on common random
numbers. A search sees one draw per child; the benchmark (experiments/benchmark.py) scores
the config it would deploy by μ. A failed child (its loss diverged, it timed out) counts as
accuracy 0, as its reward does: that is what deploying the config risks.

The store, ROOT/ground_truth.sqlite, is keyed by (task, config hash, seed index) and grows
like the trial store: each child is committed the moment it finishes, so an interrupted
measurement continues where it stopped, and nothing is trained or stored twice. Per task
it records what decided its children (trainer settings, data checksums: the evaluator's
description) and refuses children of another trainer or data.
"""
import dataclasses
import json
import os
import sqlite3
import time

from absl import logging
import numpy as np

from mnms_tf.search import store as store_lib

FILENAME = 'ground_truth.sqlite'
_TRUTH_ENTROPY = 0x6d756e6d5f74  # any constant; a search's seed sequences have 3 words
_SCHEMA = """
CREATE TABLE IF NOT EXISTS children (
  task TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  seed_index INTEGER NOT NULL,
  config TEXT NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  val_accuracy REAL NOT NULL,
  test_accuracy REAL NOT NULL,
  seconds REAL NOT NULL,
  finished_at REAL NOT NULL,
  PRIMARY KEY (task, config_hash, seed_index)
);
CREATE TABLE IF NOT EXISTS evaluators (
  task TEXT PRIMARY KEY,
  description TEXT NOT NULL
);
"""
StoreError = store_lib.StoreError


def truth_seed(index):
  """The child seed of ground-truth draw `index`."""
  return int(np.random.SeedSequence([_TRUTH_ENTROPY, index]).generate_state(1)[0] >> 1)


@dataclasses.dataclass(frozen=True)
class Truth:
  """One config's ground truth on one task, over the seeds measured so far."""
  config: dict
  test: float       # μ: the mean test accuracy
  val: float        # the mean validation accuracy
  test_std: float   # the spread of one draw's test accuracy over seeds
  val_std: float
  seeds: int
  seconds: float    # the mean child-seconds of one training

  @property
  def test_se(self):
    """The standard error of μ."""
    return self.test_std / np.sqrt(self.seeds)


class GroundTruthStore:
  """ROOT/ground_truth.sqlite (module doc)."""

  def __init__(self, root_dir, read_only=False):
    self.path = os.path.join(root_dir, FILENAME)
    if read_only and not os.path.exists(self.path):
      raise StoreError(f'No ground truth at {self.path}: run the benchmark first')
    os.makedirs(root_dir, exist_ok=True)
    self._db = store_lib.connect(self.path, _SCHEMA, 'children', read_only, 'Ground truth')

  def close(self):
    self._db.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def check_evaluator(self, tasks, describe):
    """Records `describe([task])` (the evaluator's description of what decides a child)
    for each new task; StoreError if a task's children were measured under another."""
    for task in tasks:
      description = json.dumps(describe([task]), sort_keys=True)
      row = self._db.execute('SELECT description FROM evaluators WHERE task = ?',
                             (task,)).fetchone()
      if row is None:
        with store_lib.transaction(self._db):
          self._db.execute('INSERT INTO evaluators VALUES (?, ?)', (task, description))
      elif row['description'] != description:
        stored, now = json.loads(row['description']), json.loads(description)
        differs = sorted(k for k in set(stored) | set(now) if stored.get(k) != now.get(k))
        raise StoreError(f'The ground truth of {task} in {self.path} was measured with '
                         f'another {" and ".join(differs)}: use another root directory '
                         f'(nothing was changed)')

  def add(self, seed_index, result):
    """Stores one ground-truth child (a ChildResult); commits before returning."""
    ok = result.status == store_lib.OK
    row = (result.task, result.config_hash, int(seed_index),
           json.dumps(result.config, sort_keys=True), int(result.seed), result.status,
           result.message, result.val_accuracy if ok else 0.0,
           result.test_accuracy if ok else 0.0, result.total_seconds, time.time())
    try:
      with store_lib.transaction(self._db):
        self._db.execute(f'INSERT INTO children VALUES ({", ".join("?" * len(row))})', row)
    except sqlite3.IntegrityError as e:
      raise StoreError(f'Ground truth ({result.task}, {result.config_hash}, seed '
                       f'{seed_index}) is stored already') from e

  def measured(self):
    """{(task, config hash, seed index)} stored."""
    return {tuple(row) for row in self._db.execute(
        'SELECT task, config_hash, seed_index FROM children')}

  def truths(self, task, seeds):
    """config hash -> Truth over seed indices < `seeds`, for the configs of `task` with
    all of them measured."""
    by_hash = {}
    for row in self._db.execute(
        'SELECT * FROM children WHERE task = ? AND seed_index < ? ORDER BY seed_index',
        (task, seeds)):
      by_hash.setdefault(row['config_hash'], []).append(row)
    truths = {}
    for config_hash, rows in by_hash.items():
      if len(rows) < seeds:
        continue
      test = np.array([r['test_accuracy'] for r in rows])
      val = np.array([r['val_accuracy'] for r in rows])
      truths[config_hash] = Truth(
          config=json.loads(rows[0]['config']), test=float(test.mean()), val=float(val.mean()),
          test_std=float(test.std(ddof=1)) if seeds > 1 else 0.0,
          val_std=float(val.std(ddof=1)) if seeds > 1 else 0.0, seeds=seeds,
          seconds=float(np.mean([r['seconds'] for r in rows])))
    return truths

  def count(self):
    return self._db.execute('SELECT count(*) FROM children').fetchone()[0]


def reference_pool(space, size, seed=0):
  """`size` distinct configs (canonical: children/space.py) drawn stratified at random, the
  same for every task: each parameter's choices in shuffled rounds (every choice once per
  round), so that each choice of each parameter comes about equally often; a config that
  trains the same child as an earlier one is skipped. A smaller pool is a prefix of a
  larger one."""
  pool, length = {}, 2 * size
  while len(pool) < size:
    pool.clear()
    columns = []
    for parameter, choices in enumerate(space.sizes):
      rng = np.random.default_rng([seed, parameter])
      rounds = -(-length // choices)
      columns.append(np.concatenate([rng.permutation(choices) for _ in range(rounds)]))
    for actions in zip(*columns):
      config = space.to_config(actions)
      pool.setdefault(space.config_hash(config), config)
      if len(pool) == size:
        break
    length *= 2
  return list(pool.values())


def measure(root_dir, evaluator, wanted, seeds, progress_every=60.0):
  """Trains the ground-truth children of `wanted` [(task, config)] not stored yet (`seeds`
  of each), storing each as it finishes; returns how many it trained. Seed by seed, so an
  interrupted measurement has every config at the same count."""
  space = evaluator.space
  with GroundTruthStore(root_dir) as store:
    tasks = sorted({task for task, _ in wanted})
    store.check_evaluator(tasks, evaluator.describe)
    done, jobs, seen = store.measured(), [], set()
    for index in range(seeds):
      for task, config in wanted:
        key = (task, space.config_hash(config), index)
        if key not in done and key not in seen:
          seen.add(key)
          jobs.append((index, (task, space.validate(config), truth_seed(index))))
    if not jobs:
      return 0
    logging.info('ground truth: %d children to train (%d stored)', len(jobs), len(done))
    started = last = time.time()
    for count, (job, result, _) in enumerate(
        evaluator.run([job for _, job in jobs]), start=1):
      store.add(jobs[job][0], result)
      if time.time() - last >= progress_every or count == len(jobs):
        last, elapsed = time.time(), time.time() - started
        logging.info('ground truth: %d/%d children, %.1f per minute, %.0f min left', count,
                     len(jobs), 60 * count / elapsed, (len(jobs) - count) * elapsed / count / 60)
    return len(jobs)
