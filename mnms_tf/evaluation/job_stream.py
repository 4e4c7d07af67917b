"""How evaluators take jobs: streamed in as the runner samples them, out as children finish.

A pool implements three calls: `submit(key, job)` queues a job (task, config, seed) and
starts it as soon as a worker is free, `next_result()` blocks until some child finishes and
returns (key, ChildResult, worker name), and `cancel()` drops the queued jobs and
stops the running ones. Streaming lets the runner hand over the next iteration's children
while the last ones of the current iteration still train (runner.py, `pipelined`).
`Streaming.run(jobs)` is the batch form built on them.
"""
import collections


class Streaming:
  """Mixin: `run(jobs)` over a pool's `submit`, `next_result` and `cancel`."""

  def run(self, jobs):
    """Yields (job index, ChildResult, worker name) as children finish, for `jobs`
    [(task, config, seed)]; stopping early cancels the children still running."""
    jobs = list(jobs)
    for index, job in enumerate(jobs):
      self.submit(index, job)
    try:
      for _ in jobs:
        yield self.next_result()
    finally:
      self.cancel()


class InProcess(Streaming):
  """Trains the queued jobs one at a time, in the calling process, when a result is asked
  for (no isolation and no timeout: tests, notebooks, synthetic children)."""

  def __init__(self, train, worker_name):
    self._train = train
    self._worker_name = worker_name
    self._queue = collections.deque()

  def submit(self, key, job):
    self._queue.append((key, job))

  def next_result(self):
    if not self._queue:
      raise RuntimeError('next_result() with no job submitted')
    key, job = self._queue.popleft()
    return key, self._train(*job), self._worker_name

  def cancel(self):
    self._queue.clear()

  def close(self):
    self.cancel()
