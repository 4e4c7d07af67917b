"""An experiment's searches as plain data, run one after another here or at once on Ray.

A `SearchJob` is one `runner.search`: its run directory, budget, settings, the complete gin
config it runs under and the searches it waits for (a transfer waits for its source).
`run_here` runs jobs one after another on the caller's evaluator, whose workers serve
every search in turn. `RaySearches` runs up to `concurrency` of them at once, each search's
loop as a Ray task with `workers` actors of its own, anywhere on the cluster: a search's
trials do not depend on where or beside what it runs (its children's seeds come from its
own seed and iterations), so the jobs store the same trials either way.

Faults on Ray: a search task whose process or node dies is retried (`max_retries`) on any
node and resumes from its run directory. The children it had stored stay; those that were
training on its actors (which die with it) are trained again, with the same seeds, so
nothing is stored twice and nothing is lost. A child whose actor dies while its search
lives is a failed trial, as on one machine (evaluation/ray_pool.py). Every node must see
the run directories and the data at the same paths: a shared file system, or `build_data`
on each node with the same `--data_dir` and a shared root directory.
"""
import collections
import dataclasses
import os
import time
from typing import Optional, Sequence

from absl import logging
import gin

from mnms_tf.controllers import factory as controller_lib
from mnms_tf.data import features
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.evaluation import ray_pool
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib


@dataclasses.dataclass(frozen=True)
class SearchJob:
  """`arguments`: `runner.search` settings as plain data; its 'controller', the kind of
  controller (default: gin's), and 'controller_settings', what differs from gin's settings
  of that kind (e.g. {'steps_share': 0.4}; a dict setting changes in the keys given).
  `gin_config`: what the search runs under where it is not the caller's gin (a Ray node).
  `after`: run directories that must hold finished searches first. `seconds`: a limit on
  this start's time besides `iterations`."""
  run_dir: str
  iterations: int
  arguments: dict
  gin_config: str = ''
  after: Sequence[str] = ()
  label: str = ''
  seconds: Optional[float] = None

  def parse_gin(self):
    """Makes `gin_config` the gin in force (what its trainer and controller read)."""
    with gin.unlock_config():
      gin.clear_config()
      gin.parse_config(self.gin_config)

  def run(self, evaluator, task_features=None):
    arguments = dict(self.arguments)
    if 'controller' in arguments:
      factory = controller_lib.ControllerFactory(kind=arguments.pop('controller'))
      changes = arguments.pop('controller_settings', None)
      if changes:
        factory = dataclasses.replace(factory, peer={
            k: dict(v, **changes[k]) if isinstance(v, dict) and k in changes else
            changes.get(k, v) for k, v in factory.peer.items()})
      arguments['create_controller'] = factory
    logging.info('=== %s: %d iterations ===', self.label or self.run_dir, self.iterations)
    return runner.search(self.run_dir, runner.Budget(self.iterations, seconds=self.seconds),
                         evaluator, task_features=task_features, **arguments)


def finished(run_dir, iterations):
  """Whether `run_dir` holds every child of its first `iterations` iterations."""
  if not os.path.exists(os.path.join(run_dir, store_lib.FILENAME)):
    return False
  width = run_dir_lib.read_info(run_dir)['children_per_iteration']
  with store_lib.TrialStore(run_dir, read_only=True) as store:
    return sum(r['iteration'] < iterations for r in store.trials()) >= iterations * width


def run_here(jobs, evaluator, task_features=None):
  """Runs (or resumes) `jobs` one after another, in order, on `evaluator`."""
  for done, job in enumerate(jobs):
    logging.info('searches: %d of %d done', done, len(jobs))
    job.run(evaluator, task_features)


def _search_task(job, data_dir, workers, lock_wait_seconds):
  """A search's loop on a Ray node: the job's gin, its own actors, its own task features."""
  job.parse_gin()
  # A retried search may start before the process it replaces has let go of the lock.
  run_dir_lib.RunDir(job.run_dir).wait_until_free(lock_wait_seconds)
  with evaluators.Children(data_dir, workers, 'ray') as evaluator:
    summary = job.run(evaluator, features.TaskFeatures.for_space(data_dir, evaluator.space))
  return {k: summary[k] for k in ('iterations', 'children', 'best')}


@gin.configurable(denylist=['concurrency', 'workers', 'data_dir', 'address'])
class RaySearches:
  """Runs jobs `concurrency` at a time as Ray tasks (each with `workers` child actors) on
  the cluster at `address` (None: a local Ray with concurrency * workers CPUs).

  max_retries: times Ray starts a search task again after its process or node died.
  resources: Ray resources each search task asks for besides no CPU (its loop mostly
    waits for children), e.g. {'searches': 1} to keep searches on nodes that offer them.
  lock_wait_seconds: how long a started search waits for its run directory's lock (a
    retried search's predecessor, or its file system's lock lease, letting go).
  """

  def __init__(self, concurrency, workers, data_dir, address=None, max_retries=3,
               resources=None, lock_wait_seconds=120.0):
    if int(concurrency) < 1 or int(workers) < 1:
      raise errors.UserError(f'RaySearches needs concurrency and workers >= 1, got '
                             f'{concurrency!r} and {workers!r}')
    self.concurrency, self.workers = int(concurrency), int(workers)
    self.data_dir, self.address = data_dir, address
    self.max_retries, self.resources = int(max_retries), dict(resources or {})
    self.lock_wait_seconds = float(lock_wait_seconds)

  def run(self, jobs):
    """Runs (or resumes) the unfinished `jobs`, each once the searches it waits for are
    finished; raises the first search's error after the others have run."""
    ray, started_ray = ray_pool.init_ray(self.address, self.concurrency * self.workers)
    try:
      return self._run(ray, list(jobs))
    finally:
      if started_ray:
        ray.shutdown()

  def _run(self, ray, jobs):
    task = ray.remote(num_cpus=0, resources=self.resources, max_retries=self.max_retries,
                      retry_exceptions=False, scheduling_strategy='SPREAD')(_search_task)
    done = {j.run_dir for j in jobs if finished(j.run_dir, j.iterations)}
    waiting = collections.deque(j for j in jobs if j.run_dir not in done)
    total, errors_seen, running, started = len(waiting), [], {}, time.time()
    logging.info('%d searches to run (%d finished), %d at a time on Ray', total,
                 len(jobs) - total, self.concurrency)
    while waiting or running:
      for job in list(waiting):
        if len(running) == self.concurrency:
          break
        if all(d in done for d in job.after):
          waiting.remove(job)
          running[task.remote(job, self.data_dir, self.workers,
                              self.lock_wait_seconds)] = job
      if not running:
        break  # what is left waits for searches that did not finish
      (ref,), _ = ray.wait(list(running), num_returns=1)
      job = running.pop(ref)
      try:
        summary = ray.get(ref)
      except ray.exceptions.RayError as e:  # it raised, or died more than max_retries times
        error = getattr(e, 'cause', None) or e
        errors_seen.append((job, error))
        logging.error('%s did not finish: %s', job.label or job.run_dir,
                      errors.one_line(error))
        continue
      done.add(job.run_dir)
      best = ', '.join(f'{t} {row["val_accuracy"]:.3f}' for t, row in summary['best'].items()
                       if row)
      logging.info('%d/%d searches done (%.1f min): %s, %d children, best validation '
                   'accuracy %s', total - len(waiting) - len(running), total,
                   (time.time() - started) / 60, job.label or job.run_dir,
                   summary['children'], best)
    if errors_seen:
      job, error = errors_seen[0]
      if isinstance(error, errors.UserError):
        raise error
      raise errors.UserError(
          f'{len(errors_seen)} of {total} searches did not finish ({len(waiting)} more waited '
          f'for them), the first ({job.label or job.run_dir}) with {type(error).__name__}: '
          f'{errors.one_line(error)}; the others are stored: run again to resume') from error
    if waiting:
      raise errors.UserError(f'{waiting[0].label or waiting[0].run_dir} waits for '
                             f'{list(waiting[0].after)}, which no search here provides')
