"""How evaluators take jobs: streamed in as the runner samples them, out as children finish.

A pool implements three calls: `submit(key, job)` queues a job (task, config, seed),
`next_result()` starts what workers are free for, blocks until some child finishes and
returns (key, ChildResult, worker name), and `cancel()` drops the queued jobs and
stops the running ones. Streaming lets the runner hand over the next iteration's children
while the last ones of the current iteration still train (runner.py, `pipelined`).
`Streaming.run(jobs)` is the batch form built on them.

Jobs start in groups (`JobQueue`): with `JobQueue.max_group_size` > 1, children submitted
together that share a graph train as one stacked computation (children/stacked.py).
"""
import collections

import gin

from mnms_tf.children import space as search_space


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


@gin.configurable
class JobQueue:
  """Jobs not started yet, taken in groups.

  Jobs submitted between two `seal()`s (pools seal at each `next_result`) form groups of
  children that share a graph (`space.graph_key`), at most `max_group_size` each, in the
  order submitted. Which children train together thus depends on the order of calls,
  never on timing: a search groups its children alike on any pool and machine.
  The default, 1, trains one child at a time: on 2 cores a stacked group is still slower
  than its children one by one (docs/children.md#children-trained-together).
  """

  def __init__(self, max_group_size=1):
    if int(max_group_size) < 1:
      raise ValueError(f'JobQueue.max_group_size must be >= 1, got {max_group_size!r}')
    self.max_group_size = int(max_group_size)
    self._jobs = collections.deque()  # (submission batch or None: alone, key, job)
    self._batch = 0

  def __bool__(self):
    return bool(self._jobs)

  def add(self, key, job):
    self._jobs.append((self._batch, key, job))

  def seal(self):
    """Later jobs join no group of the jobs added so far."""
    self._batch += 1

  def retry_alone(self, group):
    """Puts a group's [(key, job)] back first, each to train alone (its group failed
    as a whole: its worker died or it timed out)."""
    self._jobs.extendleft((None, key, job) for key, job in reversed(group))

  def take(self):
    """The next group [(key, job)]: the first job and the later ones of its batch that
    share its graph."""
    batch, key, job = self._jobs.popleft()
    group = [(key, job)]
    if batch is None:
      return group
    graph = search_space.graph_key(job[0], job[1])
    for entry in list(self._jobs):
      if len(group) == self.max_group_size:
        break
      if entry[0] == batch and search_space.graph_key(entry[2][0], entry[2][1]) == graph:
        self._jobs.remove(entry)
        group.append(entry[1:])
    return group

  def clear(self):
    self._jobs.clear()


class InProcess(Streaming):
  """Trains the queued jobs in the calling process when a result is asked for (no
  isolation and no timeout: tests, notebooks, synthetic children). With `train_group`
  (task, [(config, seed)]) -> results, in groups as the pools do; else one at a time."""

  def __init__(self, train, worker_name, train_group=None):
    self._train = train
    self._train_group = train_group
    self._worker_name = worker_name
    self._queue = JobQueue() if train_group else JobQueue(max_group_size=1)
    self._finished = collections.deque()

  def submit(self, key, job):
    self._queue.add(key, job)

  def next_result(self):
    self._queue.seal()
    if not self._finished:
      if not self._queue:
        raise RuntimeError('next_result() with no job submitted')
      group = self._queue.take()
      if self._train_group and len(group) > 1:
        results = self._train_group(group[0][1][0], [job[1:] for _, job in group])
      else:
        results = [self._train(*job) for _, job in group]
      self._finished.extend((key, result, self._worker_name)
                            for (key, _), result in zip(group, results, strict=True))
    return self._finished.popleft()

  def cancel(self):
    self._queue.clear()
    self._finished.clear()

  def close(self):
    self.cancel()
