"""Trains an iteration's children on N processes, each with its own TF state and caches.

`concurrent.futures.ProcessPoolExecutor` with spawned (not forked: TF's threads do not
survive a fork) workers. Each worker parses the search's gin config, sets TF to
`cores // N` threads, and keeps one `child.ChildTrainer`, so module loads, cached
sentence vectors and traced training loops are reused across the children it trains.
With N = 1 children train in the calling process instead, with no pool at all.
"""
import concurrent.futures
import multiprocessing
import os
import threading
import time

import gin

_trainer = None  # the worker process's ChildTrainer


def _default_threads(num_workers):
  return max(1, (os.cpu_count() or 1) // num_workers)


def _exit_with_parent(parent_pid):
  """A worker whose search was killed (even by SIGKILL) must not linger holding memory."""
  while os.getppid() == parent_pid:
    time.sleep(1.0)
  os._exit(1)  # pylint: disable=protected-access


def _init_worker(parent_pid, gin_config, data_dir, threads):
  global _trainer
  threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(threads)
  tf.config.threading.set_inter_op_parallelism_threads(threads)
  gin.parse_config(gin_config)
  from mnms_tf import child  # pylint: disable=g-import-not-at-top
  _trainer = child.ChildTrainer(data_dir=data_dir)


def _train(task, config, seed):
  return _trainer.train(task, config, seed), f'worker-{os.getpid()}'


class ChildPool:
  """`run(jobs)` yields (job index, ChildResult, worker name) as children finish.

  Worker processes start with the first job, so a pool that gets none costs nothing.
  """

  def __init__(self, num_workers, data_dir):
    self.num_workers = int(num_workers)
    if self.num_workers < 1:
      raise ValueError(f'num_workers must be >= 1, got {num_workers}')
    self.data_dir = data_dir
    self._trainer = None
    self._executor = None

  def _start(self):
    if self.num_workers == 1:
      from mnms_tf import child  # pylint: disable=g-import-not-at-top
      self._trainer = child.ChildTrainer(data_dir=self.data_dir)
    else:
      self._executor = concurrent.futures.ProcessPoolExecutor(
          self.num_workers, mp_context=multiprocessing.get_context('spawn'),
          initializer=_init_worker,
          initargs=(os.getpid(), gin.config_str(), self.data_dir,
                    _default_threads(self.num_workers)))

  def run(self, jobs):
    """`jobs` is a list of (task, config, seed)."""
    if jobs and self._trainer is None and self._executor is None:
      self._start()
    if self._executor is None:
      for index, (task, config, seed) in enumerate(jobs):
        yield index, self._trainer.train(task, config, seed), 'main'
      return
    futures = {self._executor.submit(_train, *job): index for index, job in enumerate(jobs)}
    for future in concurrent.futures.as_completed(futures):
      result, worker = future.result()
      yield futures[future], result, worker

  def close(self):
    if self._executor is not None:
      self._executor.shutdown(wait=True, cancel_futures=True)
      self._executor = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
