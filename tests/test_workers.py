"""The worker pool, with real processes: results, and faults that fail one child only."""
import os
import signal

import gin
import numpy as np
import pytest

from mnms_tf.children import trainer as child
from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.evaluation import evaluators
from mnms_tf.evaluation import workers

LONG_STEPS = 200000  # a child that trains far longer than any test waits
SHORT = {'embedding': 'en-dim50', 'trainable': False, 'nlayers': 1, 'nnodes': 10,
         'learning_rate': 0.3, 'iterations': 20, 'regularization': 0.0}
LONG = dict(SHORT, iterations=LONG_STEPS)
OTHER = dict(SHORT, nlayers=0)  # trains in no group with SHORT or LONG


@pytest.fixture
def space(tiny_task):
  """The tiny task, children in groups of up to 8, and a search space with a very long
  child in it."""
  gin.parse_config(f"""
      import mnms_tf.children.space
      import mnms_tf.evaluation.job_stream
      JobQueue.max_group_size = 8
      SearchSpace.choices = {{
          'embedding': ('en-dim50', 'es-dim50'),
          'trainable': (False, True),
          'nlayers': (0, 1),
          'nnodes': (10, 50),
          'learning_rate': (0.03, 0.3),
          'iterations': (10, 20, {LONG_STEPS}),
          'regularization': (0.0, 0.001),
      }}""")
  return search_space.SearchSpace()


@pytest.mark.slow  # worker processes
def test_parallel_workers_give_the_in_process_results(space):
  rng = np.random.default_rng(0)
  jobs = [('tiny', dict(space.sample(rng), iterations=20), seed) for seed in range(6)]
  jobs += [('tiny', dict(SHORT, nnodes=50, learning_rate=0.03), seed) for seed in (6, 7)]
  with evaluators.Children(None) as in_process:  # in the same groups as the pool's
    expected = {index: result for index, result, _ in in_process.run(jobs)}
  with workers.ChildPool(2, data_dir=None) as pool:
    results = {index: (result, worker) for index, result, worker in pool.run(jobs)}
    pids = pool.worker_pids()
  assert len(pids) == 2 and {worker for _, worker in results.values()} <= {
      f'worker-{pid}' for pid in pids}
  for index, (result, _) in results.items():
    assert result.status == result_lib.OK, result.message
    assert result.val_accuracy == expected[index].val_accuracy
    assert result.test_accuracy == expected[index].test_accuracy
  assert sorted(results) == list(range(len(jobs)))


@pytest.mark.usefixtures('space')
def test_a_killed_worker_fails_its_child_only():
  """The long child and two short ones train as a group; its worker is killed, so they
  train again one at a time, and the long child's worker is killed again: it alone fails,
  and the short ones keep the results they have alone."""
  jobs = [('tiny', LONG, 0), ('tiny', SHORT, 1), ('tiny', SHORT, 2), ('tiny', OTHER, 3)]
  expected = {seed: child.ChildTrainer(data_dir=None).train(*jobs[seed]) for seed in (1, 2)}
  results, victims = {}, []
  with workers.ChildPool(2, data_dir=None) as pool:
    list(pool.run([('tiny', OTHER, 0)] * 2))  # both workers up
    for index, result, worker in pool.run(jobs):
      if len(results) < 2:  # first the group's worker, then the long child's alone
        victim, = [pid for pid in pool.worker_pids() if f'worker-{pid}' != worker]
        os.kill(victim, signal.SIGKILL)
        victims.append(victim)
      results[index] = result
    assert results[0].status == result_lib.FAILED and results[0].config == LONG
    assert results[0].message == (
        f'worker process {victims[1]} died (killed by signal SIGKILL) while training this child')
    assert [results[i].status for i in (1, 2, 3)] == [result_lib.OK] * 3
    for seed in (1, 2):
      assert results[seed].val_accuracy == expected[seed].val_accuracy
    assert not set(victims) & set(pool.worker_pids())
    (_, later, _), = pool.run([('tiny', SHORT, 4)])
    assert later.status == result_lib.OK, later.message


@pytest.mark.slow  # worker processes and a 5 s timeout
@pytest.mark.usefixtures('space')
def test_a_child_past_the_timeout_fails_and_the_pool_goes_on():
  """The two train as a group (limit 2 x 5 s), then, past it, one at a time."""
  with workers.ChildPool(1, data_dir=None, child_timeout_seconds=5) as pool:
    results = {index: (result, worker) for index, result, worker in
               pool.run([('tiny', LONG, 0), ('tiny', SHORT, 1)])}
    long_child, timed_out_worker = results[0]
    short_child, next_worker = results[1]
    assert long_child.status == result_lib.FAILED and long_child.config == LONG
    assert long_child.message == 'timed out after 5 s (ChildPool.child_timeout_seconds = 5)'
    assert short_child.status == result_lib.OK, short_child.message
    # The timed-out worker was killed and a new one trained the next child.
    assert next_worker != timed_out_worker
    assert [f'worker-{pid}' for pid in pool.worker_pids()] == [next_worker]


@pytest.mark.slow  # worker processes
@pytest.mark.usefixtures('space')
def test_a_worker_past_its_start_timeout_fails_its_child_not_the_pool():
  # No process spawns and imports TensorFlow in 10 ms; a child's limit does not apply.
  with workers.ChildPool(1, data_dir=None, start_timeout_seconds=0.01) as pool:
    (_, result, _), = pool.run([('tiny', SHORT, 0)])
    assert result.status == result_lib.FAILED
    assert result.message == (
        'its worker did not start within 0.01 s (ChildPool.start_timeout_seconds = 0.01)')
    assert pool.worker_pids() == []
    pool.start_timeout_seconds = 600.0
    (_, later, _), = pool.run([('tiny', SHORT, 1)])
    assert later.status == result_lib.OK, later.message


@pytest.mark.slow  # worker processes
@pytest.mark.usefixtures('space')
def test_stopping_early_kills_the_busy_workers_only():
  with workers.ChildPool(2, data_dir=None) as pool:
    run = pool.run([('tiny', LONG, 0), ('tiny', OTHER, 1)])
    index, _, worker = next(run)
    assert index == 1 and len(pool.worker_pids()) == 2
    run.close()
    assert [f'worker-{pid}' for pid in pool.worker_pids()] == [worker]
    (_, later, later_worker), = pool.run([('tiny', SHORT, 2)])
    assert later.status == result_lib.OK and later_worker == worker
  assert not pool.worker_pids()
  pool.close()  # idempotent


@pytest.mark.slow  # worker processes
@pytest.mark.usefixtures('space')
def test_workers_that_cannot_start_fail_each_child_once():
  jobs = [('tiny', SHORT, seed) for seed in range(3)]
  with workers.ChildPool(2, data_dir=None, gin_config='NoSuchThing.value = 1') as pool:
    results = sorted(pool.run(jobs), key=lambda r: r[0])
  assert [index for index, _, _ in results] == [0, 1, 2]
  for _, result, worker in results:
    assert result.status == result_lib.FAILED
    assert result.message.startswith(f'worker process {worker[len("worker-"):]} could not start')
    assert 'NoSuchThing' in result.message


def test_at_least_one_worker():
  with pytest.raises(ValueError, match='num_workers >= 1'):
    workers.ChildPool(0, data_dir=None)
