"""Children trained before, answered from a store instead of trained again.

Searches that give the same slot the same child seed (the benchmark's methods do, so that
they are compared on common random numbers) often propose the same child: a zero-shot
portfolio's random search after its first iteration is random search's, and warm starts
evaluate the same configs first. `CachedChildren` trains each such child once. A child is
keyed by task, canonical config (children/space.py) and seed, under one evaluator
description per task (a store of other children is refused); only successful children are
kept, since a failure may be the machine's (a timeout) rather than the child's.
"""
import collections
import json

from mnms_tf.children import result as result_lib
from mnms_tf.evaluation import job_stream
from mnms_tf.search import store as store_lib

_SCHEMA = """
CREATE TABLE IF NOT EXISTS children (
  task TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  seed INTEGER NOT NULL,
  result TEXT NOT NULL,
  worker TEXT NOT NULL,
  PRIMARY KEY (task, config_hash, seed)
);
CREATE TABLE IF NOT EXISTS evaluators (
  task TEXT PRIMARY KEY,
  description TEXT NOT NULL
);
"""


class CachedChildren(job_stream.Streaming):
  """`evaluator` behind the child store at `path` (the caller keeps owning `evaluator`)."""

  def __init__(self, path, evaluator):
    self.evaluator, self.space = evaluator, evaluator.space
    self.trainer = getattr(evaluator, 'trainer', None)  # (a differentiable search trains on it)
    self.path = path
    self._db = store_lib.connect(path, _SCHEMA, 'children', False, 'Child cache')
    self._answered = collections.deque()  # (key, ChildResult, worker) found in the store
    self._checked = set()
    self.reused = 0

  def check_tasks(self, tasks):
    self.evaluator.check_tasks(tasks)

  def describe(self, tasks):
    return self.evaluator.describe(tasks)

  def _check(self, task):
    if task in self._checked:
      return
    description = json.dumps(self.evaluator.describe([task]), sort_keys=True)
    with store_lib.transaction(self._db):
      row = self._db.execute('SELECT description FROM evaluators WHERE task = ?',
                             (task,)).fetchone()
      if row is None:
        self._db.execute('INSERT INTO evaluators VALUES (?, ?)', (task, description))
      elif row['description'] != description:
        raise store_lib.StoreError(f'The children of {task} in {self.path} were trained by '
                                   f'another trainer or on other data: use another root')
    self._checked.add(task)

  def submit(self, key, job):
    task, config, seed = job
    self._check(task)
    row = self._db.execute(
        'SELECT result, worker FROM children WHERE task = ? AND config_hash = ? AND seed = ?',
        (task, self.space.config_hash(config), int(seed))).fetchone()
    if row is None:
      self.evaluator.submit(key, job)
      return
    self.reused += 1
    self._answered.append((key, result_lib.ChildResult(**json.loads(row['result'])),
                           row['worker']))

  def next_result(self):
    if self._answered:
      return self._answered.popleft()
    key, result, worker = self.evaluator.next_result()
    if result.status == result_lib.OK:
      with store_lib.transaction(self._db):
        self._db.execute('INSERT OR IGNORE INTO children VALUES (?, ?, ?, ?, ?)',
                         (result.task, result.config_hash, int(result.seed), result.to_json(),
                          worker))
    return key, result, worker

  def cancel(self):
    self._answered.clear()
    self.evaluator.cancel()

  def close(self):
    self._db.close()
