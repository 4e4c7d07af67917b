"""A tiny suite experiment on a 3-node local Ray cluster (ray.cluster_utils.Cluster, several
raylets on this machine): its held-out searches at once as Ray tasks store the trials of
the same experiment run one after another on the process pool, also when the node running
one of them is removed mid-run."""
import os
import shutil
import threading
import time

import psutil
import pytest

from mnms_tf import configs
from mnms_tf.data import features
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib

pytestmark = pytest.mark.slow  # a Ray cluster, worker processes, several searches

ITERATIONS = 6  # per held-out search: long enough for a node to be removed mid-search
# Node deaths noticed within a second or two, not Ray's default of half a minute.
FAST_HEALTH_CHECKS = {'health_check_initial_delay_ms': 0, 'health_check_period_ms': 500,
                      'health_check_failure_threshold': 2}


def _trials(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return [(r['iteration'], r['slot'], r['task'], r['config'], r['seed'], r['status'],
             r['val_accuracy'], r['test_accuracy']) for r in store.trials()]


def _runs_on(node, run_dir):
  """Whether the process holding `run_dir`'s lock is one of `node`'s workers."""
  try:
    with open(os.path.join(run_dir, run_dir_lib.LOCK)) as f:
      pid = int(f.read().strip() or 0)
    raylet = node.all_processes['raylet'][0].process.pid
    return pid and raylet in [p.pid for p in psutil.Process(pid).parents()]
  except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
    return False


def _count(run_dir):
  try:
    with store_lib.TrialStore(run_dir, read_only=True) as store:
      return store.count()
  except store_lib.StoreError:  # not there yet, or being created
    return 0


@pytest.fixture
def tiny_suite(tiny_task, tmp_path):
  """Three tasks on the tiny task's file (two pre-trained on, one held out), the tiny
  search space, and the protocol: two held-out variants of one seed, one transferred."""
  path = tmp_path / 'tiny.csv'
  tasks = ''.join(f"""
      {name}/FileTask.name = '{name}'
      {name}/FileTask.path = '{path}'
      {name}/FileTask.text_column = 'text'
      {name}/FileTask.label_column = 'label'""" for name in 'abc')
  configs.parse(['search/tiny_test.gin'], [
      tiny_task, tasks, 'user_tasks.tasks = [@a/FileTask(), @b/FileTask(), @c/FileTask()]'])
  return suite_experiment.Protocol(
      pretraining_tasks=['a', 'b'], held_out_tasks=['c'], pretraining_iterations=1,
      held_out_iterations=ITERATIONS, seeds=1, variants=['random', 'transfer'])


def test_searches_at_once_on_a_cluster_store_the_trials_of_one_after_another(
    tiny_suite, tmp_path):
  import ray  # pylint: disable=g-import-not-at-top
  from ray import cluster_utils  # pylint: disable=g-import-not-at-top
  protocol, data_dir = tiny_suite, str(tmp_path / 'data')
  reference, root = tmp_path / 'one_after_another', tmp_path / 'cluster'
  with evaluators.Children(data_dir, 2) as evaluator:  # worker processes
    suite_experiment.run_searches(str(reference), protocol, evaluator,
                                  features.TaskFeatures.for_space(data_dir, evaluator.space))

  # Searches only on the nodes offering 'searches'; the one to lose has no CPU, so no
  # other search's children train there: all of its loss is its own search.
  cluster = cluster_utils.Cluster(initialize_head=True, connect=True, head_node_args={
      'num_cpus': 1, '_system_config': FAST_HEALTH_CHECKS})
  try:
    lost = cluster.add_node(num_cpus=0, resources={'searches': 1})
    cluster.add_node(num_cpus=1, resources={'searches': 1})
    cluster.wait_for_nodes()
    # The held-out searches start from the same pre-training (a search of its own, whose
    # children would train on the cluster the same way).
    shutil.copytree(reference / suite_experiment.PRETRAIN, root / suite_experiment.PRETRAIN)
    jobs = suite_experiment.held_out_searches(str(root), protocol)
    outcome = []

    def run():
      try:
        searches.RaySearches(2, 1, data_dir, resources={'searches': 1}).run(jobs)
        outcome.append(None)
      except Exception as e:  # pylint: disable=broad-except
        outcome.append(e)

    driver = threading.Thread(target=run)
    driver.start()
    budget = ITERATIONS * 4
    # Once the search whose loop runs on `lost` (its run directory's lock names a process
    # of that node's raylet) has stored some children but not all.
    deadline = time.monotonic() + 300
    while not any(_runs_on(lost, job.run_dir) and 0 < _count(job.run_dir) < budget
                  for job in jobs):
      assert driver.is_alive() and time.monotonic() < deadline, (
          outcome, [_count(job.run_dir) for job in jobs])
      time.sleep(0.05)
    cluster.remove_node(lost)
    driver.join()
    assert outcome == [None], outcome
    assert len(ray.nodes()) == 3 and sum(n['Alive'] for n in ray.nodes()) == 2
  finally:
    ray.shutdown()
    cluster.shutdown()
  for job in jobs:
    stored = _trials(job.run_dir)
    assert len(stored) == budget and len({t[:2] for t in stored}) == budget
    assert stored == _trials(job.run_dir.replace(str(root), str(reference))), job.label
    with store_lib.TrialStore(job.run_dir, read_only=True) as store:
      assert all(r['worker'].startswith('ray-') for r in store.trials())
