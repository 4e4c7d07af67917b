"""Trains a search's children on Ray actors: one machine or a cluster, same trials.

Each actor is what a `workers.ChildPool` worker is: it parses the search's gin config, sets
TF to `cpus_per_child` threads and keeps one `child.ChildTrainer` (modules, cached vectors,
traced loops) for every child it trains, a group at a time (job_stream.JobQueue, as on the
process pool). Children are seeded by the runner and grouped by the order of calls, so a
search stores the same trials on Ray as on the process pool.

Faults are failed trials, never retried (as on the process pool; a retry would make a
search's trials depend on where its children ran): a child whose actor dies (its node is
lost, out of memory, a crash) or that runs past `child_timeout_seconds` (counted, as on
the process pool, from when its actor has started; start-up has its own
`start_timeout_seconds`) is stored as `failed` with the reason, the actor is replaced and
the search goes on. A group whose actor dies or that runs past `child_timeout_seconds` per
member is trained again one child at a time, so that only the faulty child fails.

Every node needs this package (the same version) and the data at the same path: a shared
`MNMS_DATA_DIR`, or `build_data` run on each node with the same `--data_dir`.
"""
import collections
import os
import re
import time

from absl import logging
import gin

from mnms_tf.children import result as result_lib
from mnms_tf import configs
from mnms_tf import errors
from mnms_tf.evaluation import job_stream
from mnms_tf.evaluation import workers


def _import_ray():
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.UserError('--backend=ray needs the `ray` package: '
                           'bash scripts/setup.sh installs it') from e
  return ray


def init_ray(address, num_cpus):
  """(ray, whether this call started it): connected to the cluster at `address`, or to a
  local Ray with `num_cpus` CPUs started now (None), unless this process already is."""
  ray = _import_ray()
  if ray.is_initialized():
    return ray, False
  env = {'TF_CPP_MIN_LOG_LEVEL': os.environ.get('TF_CPP_MIN_LOG_LEVEL', '3')}
  try:
    if address:
      ray.init(address=address, runtime_env={'env_vars': env}, log_to_driver=False)
    else:
      ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env={'env_vars': env},
               log_to_driver=False, object_store_memory=200 * 2**20)
  except ConnectionError as e:
    raise errors.UserError(f'cannot reach the Ray cluster at {address!r}: {e}') from e
  return ray, True


def _name(actor):
  return f'ray-{actor._actor_id.hex()[:8]}'  # pylint: disable=protected-access


class _ChildActor:
  """A Ray actor holding one ChildTrainer (the body of a process-pool worker)."""

  def __init__(self, gin_config, data_dir, threads):
    try:
      self.trainer, self.error = workers.start_trainer(gin_config, data_dir, threads), None
    except Exception as e:  # pylint: disable=broad-except
      self.trainer, self.error = None, f'{type(e).__name__}: {errors.one_line(e)}'

  def ready(self):
    """Returns once the actor has started (Ray runs an actor's calls in order)."""

  def train(self, jobs):
    """([ChildResult] of a group's jobs [(task, config, seed)], whether this actor can
    train)."""
    if self.error:
      return [result_lib.failed_result(*job, f'Ray actor could not start: {self.error}', 0.0)
              for job in jobs], False
    return self.trainer.train_group(jobs[0][0], [job[1:] for job in jobs]), True


@gin.configurable(denylist=['num_workers', 'data_dir', 'address', 'gin_config'])
class RayPool(job_stream.Streaming):
  """Trains streamed children (job_stream.py) on `num_workers` Ray actors; a fault fails
  one child only.

  `address`: a running cluster's address ('auto', 'ray://host:10001', ...); None starts a
  local Ray with `num_workers * cpus_per_child` CPUs, stopped again by `close()`.
  """

  def __init__(self, num_workers, data_dir, address=None, gin_config=None,
               cpus_per_child=1, child_timeout_seconds=1800.0, start_timeout_seconds=600.0):
    if int(num_workers) < 1:
      raise ValueError(f'RayPool needs num_workers >= 1, got {num_workers!r}')
    self.num_workers = int(num_workers)
    self.data_dir = data_dir
    self.address = address
    self.gin_config = configs.config_str() if gin_config is None else gin_config
    self.cpus_per_child = int(cpus_per_child)
    self.child_timeout_seconds = float(child_timeout_seconds)
    self.start_timeout_seconds = float(start_timeout_seconds)
    self._ray = None
    self._started_ray = False
    self._actors = []  # idle ones
    # object ref -> [group [(key, job)], actor, since it (or its actor's start) began,
    #                the new actor's `ready` ref until it has started, else None]
    self._running = {}
    self._queue = job_stream.JobQueue()
    self._finished = collections.deque()  # (key, result, actor name) not returned yet
    if address:
      self._start()  # an unreachable cluster fails the search before it writes anything

  def _start(self):
    if self._ray is not None:
      return
    self._ray, self._started_ray = init_ray(self.address, self.num_workers * self.cpus_per_child)
    self._actor_class = self._ray.remote(num_cpus=self.cpus_per_child,
                                         max_restarts=0)(_ChildActor)

  def _new_actor(self):
    return self._actor_class.remote(self.gin_config, self.data_dir, self.cpus_per_child)

  def submit(self, key, job):
    """Queues `job` (task, config, seed); it starts at the next `next_result`, with the
    jobs submitted since the last one it can train with."""
    self._start()
    self._queue.add(key, job)

  def next_result(self):
    """(key, ChildResult, actor name) of the next child to finish. A child whose
    actor died or that timed out is a failed result."""
    ray = self._ray
    self._queue.seal()
    self._dispatch()
    while not self._finished:
      if not self._running:
        raise RuntimeError('next_result() with no job submitted')
      deadline = min(e[2] + self._limit(e) for e in self._running.values())
      starting = {e[3]: e for e in self._running.values() if e[3] is not None}
      done, _ = ray.wait(list(self._running) + list(starting), num_returns=1,
                         timeout=max(0.0, deadline - time.monotonic()))
      for ref in done:
        if ref in starting:  # as on the process pool, start-up is not the child's time
          starting[ref][2:] = [time.monotonic(), None]
          continue
        group, actor, started, ready = self._running.pop(ref)
        try:
          results, can_train = ray.get(ref)
          self._finished.extend((key, result, _name(actor))
                                for (key, _), result in zip(group, results, strict=True))
        except ray.exceptions.RayError as e:  # its actor or node died
          reason = re.sub(r'\x1b\[[0-9;]*m', '', errors.one_line(e))
          self._fail(group, actor, started, ready is None,
                     f'Ray actor failed while training this child ({type(e).__name__}: {reason})')
          can_train = False
        if can_train:
          self._actors.append(actor)
        else:
          ray.kill(actor)
      for ref, entry in list(self._running.items()):
        group, actor, started, ready = entry
        if time.monotonic() - started > self._limit(entry):
          del self._running[ref]
          ray.kill(actor)
          self._fail(group, actor, started, ready is None, workers.timeout_message(
              'RayPool', self._limit(entry), ready is None))
      self._dispatch()  # before the caller works on the result: actors stay busy
    return self._finished.popleft()

  def _fail(self, group, actor, started, actor_started, message):
    """Fails a group's children, or, if it is a group of several that its started actor
    could not finish, queues them to train one at a time."""
    logging.warning('%s', message)
    if actor_started and len(group) > 1:
      logging.warning('Training the %d children of that group one at a time', len(group))
      self._queue.retry_alone(group)
      return
    self._finished.extend((key, result_lib.failed_result(
        *job, message, time.monotonic() - started), _name(actor)) for key, job in group)

  def _limit(self, entry):
    """How long a group (`child_timeout_seconds` per child) or, while its `ready` ref is
    pending, its actor's start may take."""
    group, _, _, ready = entry
    if ready is not None:
      return self.start_timeout_seconds
    return self.child_timeout_seconds * len(group)

  def cancel(self):
    """Drops the queued jobs and kills the busy actors: their children are not wanted."""
    self._queue.clear()
    self._finished.clear()
    for _, actor, _, _ in self._running.values():
      self._ray.kill(actor)
    self._running = {}

  def _dispatch(self):
    while self._queue and len(self._running) < self.num_workers:
      group = self._queue.take()
      new = not self._actors
      actor = self._new_actor() if new else self._actors.pop()
      ready = actor.ready.remote() if new else None  # runs before the group: calls keep order
      self._running[actor.train.remote([job for _, job in group])] = [
          group, actor, time.monotonic(), ready]

  def close(self):
    """Releases the actors; stops Ray if this pool started it."""
    if self._ray is None:
      return
    self.cancel()
    for actor in self._actors:
      self._ray.kill(actor)
    self._actors = []
    if self._started_ray:
      self._ray.shutdown()
    self._ray = None
