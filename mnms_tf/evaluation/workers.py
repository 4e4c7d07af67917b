"""Trains a search's children on N worker processes, each with its own TF state and caches.

Workers are spawned (not forked: TF's threads do not survive a fork) when the first job
comes. Each parses the search's gin config, sets TF to `cores // N` threads and keeps one
`child.ChildTrainer`, so module loads, cached sentence vectors and traced training loops
are reused across the children it trains, a group at a time (job_stream.JobQueue).

A child whose worker dies (SIGKILL, out of memory, a crash in a TF kernel) or that runs
past `child_timeout_seconds` becomes a failed result and a new worker takes the next job.
A group has `child_timeout_seconds` per member; if its worker dies or it runs past that,
its members are trained again one at a time, so that a fault fails only its own child.
A worker's start-up (importing TF, parsing gin) has its own limit, `start_timeout_seconds`:
on a loaded machine it can take far longer than a short child.
The pool is written by hand because `concurrent.futures` can neither tell which job killed
a worker (the whole executor breaks) nor stop a task that hangs.
"""
import collections
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

from absl import logging
import gin
import tensorflow as tf

from mnms_tf.children import result as result_lib
from mnms_tf.children import trainer as child
from mnms_tf import configs
from mnms_tf.evaluation import job_stream

_READY = 'ready'  # what a worker sends once it can train; otherwise why it could not start
_STOP_SECONDS = 5.0  # how long a worker that should exit gets before it is killed


def _default_threads(num_workers):
  return max(1, (os.cpu_count() or 1) // num_workers)


def _exit_with_parent(parent_pid):
  """A worker whose search was killed (even by SIGKILL) must not linger holding memory."""
  while os.getppid() == parent_pid:
    time.sleep(1.0)
  os._exit(1)  # pylint: disable=protected-access


def start_trainer(gin_config, data_dir, threads):
  """The ChildTrainer of a fresh worker (process or Ray actor): its TF threads, the
  search's gin config. Raises what stops it from starting."""
  tf.config.threading.set_intra_op_parallelism_threads(threads)  # before any op
  tf.config.threading.set_inter_op_parallelism_threads(threads)
  gin.parse_config(gin_config)
  return child.ChildTrainer(data_dir=data_dir)


def timeout_message(pool, limit, started):
  """Why a child failed when its worker (process or actor) ran past `limit` seconds."""
  if started:
    return f'timed out after {limit:g} s ({pool}.child_timeout_seconds = {limit:g})'
  return (f'its worker did not start within {limit:g} s '
          f'({pool}.start_timeout_seconds = {limit:g})')


def _work(connection, parent_pid, gin_config, data_dir, threads):
  """A worker process: says whether it could start, then trains each job it is sent."""
  threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
  try:
    trainer = start_trainer(gin_config, data_dir, threads)
  except Exception as e:  # pylint: disable=broad-except
    connection.send(f'{type(e).__name__}: {e}')
    return
  connection.send(_READY)
  for jobs in iter(connection.recv, None):
    connection.send(trainer.train_group(jobs[0][0], [job[1:] for job in jobs]))


def _how_it_exited(exitcode):
  if exitcode is not None and exitcode < 0:
    try:
      return f'killed by signal {signal.Signals(-exitcode).name}'
    except ValueError:
      return f'killed by signal {-exitcode}'
  return f'exit code {exitcode}'


class _Worker:
  """A worker process, the parent's end of its pipe, and the group it trains if any."""

  def __init__(self, context, args):
    self.connection, their_end = context.Pipe()
    self.process = context.Process(target=_work, args=(their_end, *args), daemon=True)
    self.process.start()
    their_end.close()
    self.name = f'worker-{self.process.pid}'
    self.started = False  # whether it said it can train
    self.group = None  # [(key, (task, config, seed))] while it has one
    self.since = None  # when its group (or its start-up) began, time.monotonic()

  def give(self, group):
    self.group, self.since = group, time.monotonic()
    try:
      self.connection.send([job for _, job in group])
    except OSError:
      pass  # it has died: its sentinel tells

  def receive(self):
    """What it sent, or None if it has gone."""
    try:
      return self.connection.recv() if self.connection.poll() else None
    except (EOFError, OSError):
      return None

  def stop(self, timeout):
    """Asks it to exit and kills it if it has not within `timeout` seconds."""
    try:
      self.connection.send(None)
    except OSError:
      pass
    self.process.join(timeout)
    self.process.kill()  # a no-op once it has exited
    self.process.join()
    self.connection.close()


@gin.configurable(denylist=['num_workers', 'data_dir', 'gin_config'])
class ChildPool(job_stream.Streaming):
  """Trains streamed children (job_stream.py) on `num_workers` processes; a fault fails
  one child only.

  `gin_config` is what workers parse (by default the caller's config at construction).
  """

  def __init__(self, num_workers, data_dir, gin_config=None, child_timeout_seconds=1800.0,
               start_timeout_seconds=600.0):
    if int(num_workers) < 1:
      raise ValueError(f'ChildPool needs num_workers >= 1, got {num_workers!r}')
    self.num_workers = int(num_workers)
    self.data_dir = data_dir
    self.gin_config = configs.config_str() if gin_config is None else gin_config
    self.child_timeout_seconds = float(child_timeout_seconds)
    self.start_timeout_seconds = float(start_timeout_seconds)
    self._context = multiprocessing.get_context('spawn')
    self._workers = []  # live ones, with or without a job
    self._busy = []  # those with a group
    self._queue = job_stream.JobQueue()
    self._finished = collections.deque()  # (key, result, worker name) not returned yet

  def worker_pids(self):
    """The live workers' process ids, to watch or signal them."""
    return [w.process.pid for w in self._workers if w.process.is_alive()]

  def submit(self, key, job):
    """Queues `job` (task, config, seed); it starts at the next `next_result`, with the
    jobs submitted since the last one it can train with."""
    self._queue.add(key, job)

  def next_result(self):
    """(key, ChildResult, worker name) of the next child to finish. A child whose
    worker died or that timed out is a failed result."""
    self._queue.seal()
    self._dispatch()
    while not self._finished:
      if not self._busy:
        raise RuntimeError('next_result() with no job submitted')
      deadline = min(w.since + self._limit(w) for w in self._busy)
      ready = multiprocessing.connection.wait(
          [w.connection for w in self._busy] + [w.process.sentinel for w in self._busy],
          timeout=max(0.0, deadline - time.monotonic()))
      for worker in list(self._busy):
        finished = self._outcome(worker, ready)
        if finished is not None:
          self._busy.remove(worker)
          self._finished.extend((key, result, worker.name) for key, result in finished)
      self._dispatch()  # before the caller works on the result: workers stay busy
    return self._finished.popleft()

  def cancel(self):
    """Drops the queued jobs and kills the busy workers: their children are not wanted."""
    self._queue.clear()
    self._finished.clear()
    for worker in self._busy:
      self._remove(worker, timeout=0.0)
    self._busy = []

  def _dispatch(self):
    while self._queue and len(self._busy) < self.num_workers:
      worker = self._idle_worker()
      worker.give(self._queue.take())
      self._busy.append(worker)

  def _idle_worker(self):
    """A live worker without a group, or a new one."""
    for worker in [w for w in self._workers if w.group is None]:
      if worker.process.is_alive():
        return worker
      self._remove(worker, timeout=0.0)
      logging.warning('Idle %s died (%s); starting another', worker.name,
                      _how_it_exited(worker.process.exitcode))
    worker = _Worker(self._context, (os.getpid(), self.gin_config, self.data_dir,
                                     _default_threads(self.num_workers)))
    self._workers.append(worker)
    return worker

  def _outcome(self, worker, ready):
    """[(key, ChildResult)] of the worker's group once it is done or failed (none when a
    failed group goes back to the queue), else None. A worker that died, could not start
    or ran past its limit is removed."""
    group = worker.group
    seconds, limit = time.monotonic() - worker.since, self._limit(worker)
    if worker.connection in ready or worker.process.sentinel in ready:
      message = worker.receive()
      if isinstance(message, list):
        worker.group = None
        return [(key, result) for (key, _), result in zip(group, message, strict=True)]
      if message == _READY:
        worker.started, worker.since = True, time.monotonic()
        return None
      self._remove(worker, timeout=_STOP_SECONDS)  # it is exiting: let it give its exit code
      pid = worker.process.pid
      if message is None:
        message = (f'worker process {pid} died ({_how_it_exited(worker.process.exitcode)}) '
                   f'while {"training this child" if worker.started else "starting"}')
      else:
        message = f'worker process {pid} could not start: {message}'
    elif seconds > limit:
      self._remove(worker, timeout=0.0)
      message = timeout_message('ChildPool', limit, worker.started)
    else:
      return None
    if worker.started and len(group) > 1:
      logging.warning('A group of %d children failed (%s); training them one at a time',
                      len(group), message)
      self._queue.retry_alone(group)
      return []
    return [(key, result_lib.failed_result(*job, message, seconds)) for key, job in group]

  def _limit(self, worker):
    """How long its group (`child_timeout_seconds` per child) or its start-up may take."""
    if worker.started:
      return self.child_timeout_seconds * len(worker.group)
    return self.start_timeout_seconds

  def _remove(self, worker, timeout):
    worker.stop(timeout)
    if worker in self._workers:
      self._workers.remove(worker)

  def close(self):
    """Stops the workers: idle ones exit, busy ones (children no longer wanted) are killed."""
    self.cancel()
    while self._workers:
      worker = self._workers[-1]
      self._remove(worker, timeout=0.0 if worker.group else _STOP_SECONDS)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
