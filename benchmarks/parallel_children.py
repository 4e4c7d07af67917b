r"""Children per second with 1 worker, N worker processes and N Ray actors, one at a time
and in groups, side by side.

  python benchmarks/parallel_children.py [--workers=2] [--num_children=16] \
      [--task=rt_snippets] [--group_size=8] [--one_graph]

The same configs (drawn uniformly from the search space, seeded; with --one_graph all of
one module, fine-tuning and depth, so that they can group) are trained by a pool of 1
worker process (TF using every core), by --workers processes (one core's worth of threads
each) and by --workers actors on a local Ray (`--backend=ray`), then by the last two again
with `JobQueue.max_group_size = --group_size` (children that share a graph train as one
stacked computation, children/stacked.py). Each trains the list twice: the first pass pays
module loads, caches and traces, the second is what a long search sees. Prints both
passes, the ratios to 1 worker and the validation accuracy gaps to it.
"""
import time

from absl import app
from absl import flags
import gin
import numpy as np

from mnms_tf.children import space as search_space
from mnms_tf import cli
from mnms_tf.evaluation import ray_pool
from mnms_tf.evaluation import workers
from mnms_tf import paths

_WORKERS = cli.define_workers(2)
_NUM_CHILDREN = flags.DEFINE_integer('num_children', 16, 'Children per pass.')
_TASK = flags.DEFINE_string('task', 'rt_snippets', 'Task the children train on.')
_GROUP_SIZE = flags.DEFINE_integer('group_size', 8, 'JobQueue.max_group_size of the grouped '
                                   'pools.')
_ONE_GRAPH = flags.DEFINE_bool('one_graph', False, 'Draw children of one graph only (the '
                               'first draw\'s module, fine-tuning and depth).')


def _timed_passes(pool, jobs):
  seconds, accuracies = [], {}
  for _ in range(2):
    started = time.time()
    for index, result, _ in pool.run(jobs):
      accuracies[index] = result.val_accuracy
    seconds.append(time.time() - started)
  return seconds, accuracies


def _draw(count):
  space, rng = search_space.SearchSpace(), np.random.default_rng(0)
  configs = [space.sample(rng) for _ in range(count)]
  if _ONE_GRAPH.value:
    first = configs[0]
    configs = [dict(c, embedding=first['embedding'], trainable=first['trainable'],
                    nlayers=first['nlayers'], nnodes=c['nnodes'] or first['nnodes'] or 50)
               for c in configs]
    configs = [space.validate(c) for c in configs]
  return [(_TASK.value, config, i) for i, config in enumerate(configs)]


def _grouped(make_pool, group_size):
  """`make_pool` whose job queue takes groups of up to `group_size`."""
  def make():
    with gin.unlock_config():
      gin.bind_parameter('JobQueue.max_group_size', group_size)
    try:
      return make_pool()
    finally:
      with gin.unlock_config():
        gin.clear_config()
  return make


def main(argv):
  del argv
  jobs = _draw(_NUM_CHILDREN.value)
  steps = sum(config['iterations'] for _, config, _ in jobs)
  graphs = {search_space.graph_key(task, config) for task, config, _ in jobs}
  print(f'{len(jobs)} children on {_TASK.value}, {steps} training steps per pass, '
        f'{len(graphs)} distinct graphs')
  data_dir = paths.default_data_dir()
  processes = lambda: workers.ChildPool(_WORKERS.value, data_dir)  # pylint: disable=unnecessary-lambda-assignment
  actors = lambda: ray_pool.RayPool(_WORKERS.value, data_dir)  # pylint: disable=unnecessary-lambda-assignment
  pools = {'1 worker': lambda: workers.ChildPool(1, data_dir),
           f'{_WORKERS.value} processes': processes,
           f'{_WORKERS.value} Ray actors': actors,
           f'{_WORKERS.value} processes, grouped': _grouped(processes, _GROUP_SIZE.value),
           f'{_WORKERS.value} Ray actors, grouped': _grouped(actors, _GROUP_SIZE.value)}
  timings = {}
  for label, make_pool in pools.items():
    started = time.time()
    pool = make_pool()
    try:
      seconds, accuracies = _timed_passes(pool, jobs)
    finally:
      pool.close()
    timings[label] = seconds
    print(f'{label}: first pass {seconds[0]:.1f}s, second pass {seconds[1]:.1f}s '
          f'({len(jobs) / seconds[1]:.2f} children/s; with start-up {time.time() - started:.1f}s)',
          flush=True)
    if label == '1 worker':
      serial_accuracies = accuracies
    else:
      gaps = [abs(accuracies[i] - serial_accuracies[i]) for i in accuracies]
      print(f'  validation accuracy against 1 worker: {gaps.count(0.0)}/{len(jobs)} '
            f'identical, |gap| mean {np.mean(gaps):.4f}, max {np.max(gaps):.4f}')
  for label in list(pools)[1:]:
    print(f'speed-up of {label} over 1 worker: first pass '
          f'{timings["1 worker"][0] / timings[label][0]:.2f}, second pass '
          f'{timings["1 worker"][1] / timings[label][1]:.2f}')

if __name__ == '__main__':
  app.run(main)
