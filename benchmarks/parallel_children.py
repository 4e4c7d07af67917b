r"""Children per second with 1 worker, N worker processes and N Ray actors, side by side.

  python benchmarks/parallel_children.py [--workers=2] [--num_children=16] [--task=rt_snippets]

The same configs (drawn uniformly from the search space, seeded) are trained by a pool of
1 worker process (TF using every core), by --workers processes (one core's worth of threads
each) and by --workers actors on a local Ray (`--backend=ray`). Each trains the list twice:
the first pass pays module loads, caches and traces, the second is what a long search sees.
Prints both passes and the ratios to 1 worker.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.children import space as search_space
from mnms_tf import cli
from mnms_tf.evaluation import ray_pool
from mnms_tf.evaluation import workers
from mnms_tf import paths

_WORKERS = cli.define_workers(2)
_NUM_CHILDREN = flags.DEFINE_integer('num_children', 16, 'Children per pass.')
_TASK = flags.DEFINE_string('task', 'rt_snippets', 'Task the children train on.')


def _timed_passes(pool, jobs):
  seconds, accuracies = [], {}
  for _ in range(2):
    started = time.time()
    for index, result, _ in pool.run(jobs):
      accuracies[index] = result.val_accuracy
    seconds.append(time.time() - started)
  return seconds, accuracies


def main(argv):
  del argv
  space = search_space.SearchSpace()
  rng = np.random.default_rng(0)
  jobs = [(_TASK.value, space.sample(rng), i) for i in range(_NUM_CHILDREN.value)]
  steps = sum(config['iterations'] for _, config, _ in jobs)
  print(f'{len(jobs)} children on {_TASK.value}, {steps} training steps per pass')
  pools = {'1 worker': lambda: workers.ChildPool(1, paths.default_data_dir()),
           f'{_WORKERS.value} processes': lambda: workers.ChildPool(_WORKERS.value,
                                                                    paths.default_data_dir()),
           f'{_WORKERS.value} Ray actors': lambda: ray_pool.RayPool(_WORKERS.value,
                                                                    paths.default_data_dir())}
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
      same = sum(accuracies[i] == serial_accuracies[i] for i in accuracies)
      print(f'  identical validation accuracy to 1 worker: {same}/{len(jobs)}')
  for label in list(pools)[1:]:
    print(f'speed-up of {label} over 1 worker: first pass '
          f'{timings["1 worker"][0] / timings[label][0]:.2f}, second pass '
          f'{timings["1 worker"][1] / timings[label][1]:.2f}')

if __name__ == '__main__':
  app.run(main)
