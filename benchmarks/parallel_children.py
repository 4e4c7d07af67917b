r"""Children per second with 1 worker vs N worker processes, side by side in one run.

  python benchmarks/parallel_children.py [--workers=2] [--num_children=16] [--task=rt_snippets]

The same configs (drawn uniformly from the search space, seeded) are trained by a pool of
1 (in this process, TF using every core) and by a pool of --workers processes (one core's
worth of threads each). Each pool trains the list twice: the first pass pays module loads,
caches and traces, the second is what a long search sees. Prints both passes and the ratios.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf import paths
from mnms_tf import search_space
from mnms_tf import workers

_WORKERS = flags.DEFINE_integer('workers', 2, 'Worker processes of the parallel pool.')
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
  timings = {}
  for num_workers in (1, _WORKERS.value):
    started = time.time()
    with workers.ChildPool(num_workers, paths.default_data_dir()) as pool:
      seconds, accuracies = _timed_passes(pool, jobs)
    timings[num_workers] = seconds
    print(f'{num_workers} worker(s): first pass {seconds[0]:.1f}s, second pass {seconds[1]:.1f}s '
          f'({len(jobs) / seconds[1]:.2f} children/s; with start-up {time.time() - started:.1f}s)',
          flush=True)
    if num_workers == 1:
      serial_accuracies = accuracies
    else:
      same = sum(accuracies[i] == serial_accuracies[i] for i in accuracies)
      print(f'identical validation accuracy to 1 worker: {same}/{len(jobs)}')
  for label, index in (('first pass', 0), ('second pass', 1)):
    print(f'speed-up of {_WORKERS.value} workers over 1, {label}: '
          f'{timings[1][index] / timings[_WORKERS.value][index]:.2f}')


if __name__ == '__main__':
  app.run(main)
