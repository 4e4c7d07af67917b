r"""What the iteration barrier costs: the same search, synchronous and pipelined, side by side.

  python benchmarks/pipelined_search.py [--iterations=20] [--workers=2] [--repeats=2] \
      [--gin_file=search/multitask.gin ...] [--gin_bindings=...]

Runs the search of the --gin_file files and --gin_bindings, as the binaries parse them
(default: the paper's multitask search on the offline tasks), for --iterations on
--workers processes, alternately with `search.pipelined` False (the paper's loop: every
iteration waits for its slowest child) and True (runner.py), --repeats times each, each in
a fresh run directory with a fresh pool. Prints per run the wall time, the children
trained and the worker utilisation: child-seconds (each child's own time, measured in its
worker) over workers x wall time from the first child's start to the last one's end;
then the mean utilisation and children per minute of both modes and their ratio. After
iteration 1 the two modes draw different children (the pipelined controller is one
iteration staler), so child-seconds differ too: utilisation is the like-for-like measure,
children per minute what a user waits for.
"""
import os
import tempfile
import time

from absl import app
from absl import flags
import gin
import numpy as np

from mnms_tf import cli
from mnms_tf import configs
from mnms_tf.evaluation import evaluators
from mnms_tf import paths
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib

_ITERATIONS = flags.DEFINE_integer('iterations', 20, 'Iterations of each search.')
_WORKERS = cli.define_workers(2)
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Searches per mode (alternating).')
DEFAULT_GIN_FILE = 'search/multitask.gin'  # without --gin_file
cli.define_gin_flags()


def _one_search(root_dir, pipelined):
  gin.clear_config()
  configs.parse(flags.FLAGS.gin_file or [DEFAULT_GIN_FILE],
                list(flags.FLAGS.gin_bindings) + [f'search.pipelined = {pipelined}'])
  started = time.time()
  with evaluators.Children(paths.default_data_dir(), _WORKERS.value) as evaluator:
    runner.search(root_dir, runner.Budget(iterations=_ITERATIONS.value), evaluator)
  wall = time.time() - started
  with store_lib.TrialStore(root_dir, read_only=True) as store:
    rows = [r for r in store.trials() if r['reused_from'] is None]
  child_seconds = sum(r['seconds'] for r in rows)
  first_start = min(r['finished_at'] - r['seconds'] for r in rows)
  busy_window = max(r['finished_at'] for r in rows) - first_start
  return dict(wall=wall, children=len(rows), child_seconds=child_seconds,
              utilisation=child_seconds / (_WORKERS.value * busy_window))


def main(argv):
  del argv
  results = {False: [], True: []}
  with tempfile.TemporaryDirectory() as tmp:
    for repeat in range(_REPEATS.value):
      for pipelined in (False, True):
        measured = _one_search(os.path.join(tmp, f'{pipelined}_{repeat}'), pipelined)
        results[pipelined].append(measured)
        print(f'{"pipelined" if pipelined else "synchronous"} #{repeat}: '
              f'{measured["wall"]:.1f} s, {measured["children"]} children, '
              f'{measured["child_seconds"]:.1f} child-seconds, utilisation '
              f'{measured["utilisation"]:.3f}', flush=True)
  summary = {}
  for pipelined, runs in results.items():
    utilisation = [r['utilisation'] for r in runs]
    per_minute = [60 * r['children'] / r['wall'] for r in runs]
    summary[pipelined] = np.mean(utilisation), np.mean(per_minute)
    print(f'{"pipelined" if pipelined else "synchronous"}: utilisation '
          f'{np.mean(utilisation):.3f} (runs {", ".join(f"{u:.3f}" for u in utilisation)}), '
          f'{np.mean(per_minute):.1f} children/min')
  print(f'pipelined / synchronous: utilisation {summary[True][0] / summary[False][0]:.2f}x, '
        f'children per minute {summary[True][1] / summary[False][1]:.2f}x')


if __name__ == '__main__':
  app.run(main)
