"""What trains a search's children: the `Evaluator` the runner is handed.

The runner streams an evaluator jobs (task, config, seed) as it samples them and stores
what comes back (job_stream.py); it knows nothing else of how children are trained.
`Children` trains real children with `child.ChildTrainer`, on a pool of worker processes
(`workers.ChildPool`), on Ray actors (`ray_pool.RayPool`, one machine or a cluster) or,
with num_workers=0, in the calling process (no isolation, no timeout: for tests and
notebooks). `synthetic.SyntheticChildren` scores configs against target configs instead,
to exercise a controller through the real runner in seconds.
"""
from typing import Protocol

from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf.data.embeddings import registry as module_registry
from mnms_tf.data import summary as data_summary
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf.evaluation import job_stream
from mnms_tf.evaluation import ray_pool
from mnms_tf.evaluation import workers


class Evaluator(Protocol):
  """Trains the children of `space` (a children.space.SearchSpace, built once by whoever
  builds the evaluator: the runner searches it too), streaming jobs (job_stream.py)."""
  space: object

  def check_tasks(self, tasks):
    """Raises a errors.UserError if a task cannot be evaluated; writes nothing."""

  def describe(self, tasks):
    """Plain data of everything that decides a child's result (recorded in run.json)."""

  def submit(self, key, job):
    """Queues job (task, config, seed) under `key`; it starts when a worker is free."""

  def next_result(self):
    """(key, ChildResult, worker name) of a finished child, in any order; a child that
    cannot be trained is a `failed` result, never an exception."""

  def cancel(self):
    """Drops the queued jobs and stops the running ones."""

  def close(self):
    """Releases workers and caches."""


BACKENDS = ('processes', 'ray')


class Children(job_stream.Streaming):
  """Real children: `child.ChildTrainer` on `num_workers` worker processes or Ray actors
  (`backend`; `ray_address` None starts a local Ray), or in this process if 0 workers."""

  def __init__(self, data_dir, num_workers=0, backend='processes', ray_address=None,
               space=None):
    if backend not in BACKENDS:
      raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    self.data_dir = data_dir
    # Built here in any case: its settings go to run.json and its gin bindings to
    # operative_config.gin; it loads nothing until it trains.
    self.space = space or search_space.SearchSpace()
    self.trainer = child.ChildTrainer(data_dir=data_dir, space=self.space)
    if not num_workers:
      self.pool = job_stream.InProcess(self.trainer.train, 'main', self.trainer.train_group)
    elif backend == 'ray':
      self.pool = ray_pool.RayPool(num_workers, data_dir, ray_address)
    else:
      self.pool = workers.ChildPool(num_workers, data_dir)

  def check_tasks(self, tasks):
    for task in tasks:
      task_registry.check_task(task, self.data_dir)

  def describe(self, tasks):
    modules = sorted(self.space.choices.get('embedding', ()))
    return {
        'kind': 'children',
        'trainer': self.trainer.settings(),
        'module_handles': {m: module_registry.module_handles().get(m) for m in modules},
        'checksums': data_summary.checksums(tasks, modules, self.data_dir),
    }

  def submit(self, key, job):
    self.pool.submit(key, job)

  def next_result(self):
    return self.pool.next_result()

  def cancel(self):
    self.pool.cancel()

  def close(self):
    self.pool.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
