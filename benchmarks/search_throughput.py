r"""Children per minute of a search's stream: an earlier commit's child path vs this one's,
one at a time and in groups.

  python benchmarks/search_throughput.py [--baseline_ref=4fcf70e] [--num_children=48] \
      [--workers=2] [--runs=RUN_DIR,...] [--seed=0] [--group_size=8]

One fixed stream of (task, config, seed) is trained three times on a pool of --workers
processes, side by side in one run: by the code of --baseline_ref (exported with
`git archive` to a temporary directory and put first on PYTHONPATH), by this checkout's,
and by this checkout's with `JobQueue.max_group_size = --group_size` (children submitted
together that share a graph train as one stacked computation). Jobs are submitted a
search iteration (8) at a time, as a search does. Times are wall clock from the first job
to the last result, worker start-up, module loads and caches included (what a search of
this length pays).

The stream: with --runs, the first --num_children trials of those run directories'
stores, in order (a real search's mix); otherwise a third each for the multitask tasks
(spanish_langid, rt_snippets), the transfer tasks (polarity_reviews, es_tweets) and the
suite's held-out tasks (mnms_tf/gin/search/suite.gin; `build_data --tasks=suite` first),
children drawn uniformly from the search space, which is what a controller draws before
it has learned anything. Prints children per minute of each, the ratios, and the mean and
max |validation accuracy gap| to the baseline over children both trained.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

_BASELINE_REF = flags.DEFINE_string('baseline_ref', '4fcf70e', 'Commit whose child path is '
                                    'the baseline (default: the path before issue 26).')
_NUM_CHILDREN = flags.DEFINE_integer('num_children', 48, 'Children in the stream.')
_WORKERS = flags.DEFINE_integer('workers', 2, 'Worker processes of each pool.')
_RUNS = flags.DEFINE_list('runs', [], 'Replay these run directories\' trials instead.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the drawn stream.')
_GROUP_SIZE = flags.DEFINE_integer('group_size', 8, 'JobQueue.max_group_size of the grouped '
                                   'run.')
_REPLAY = flags.DEFINE_string('replay', None, '(internal) train this stream file and '
                              'write results beside it.')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MULTITASK, TRANSFER = ('spanish_langid', 'rt_snippets'), ('polarity_reviews', 'es_tweets')
ITERATION = 8  # children a search submits together


def held_out_tasks():
  from mnms_tf import configs  # pylint: disable=g-import-not-at-top
  import gin  # pylint: disable=g-import-not-at-top
  configs.parse(['search/suite.gin'], [])
  tasks = gin.query_parameter('Protocol.held_out_tasks')
  gin.clear_config()
  return list(tasks)


def draw_stream(count, seed):
  """A third each of multitask, transfer and suite held-out children, an iteration of one
  task at a time (a search draws one task per iteration)."""
  from mnms_tf.children import space as search_space  # pylint: disable=g-import-not-at-top
  space, rng = search_space.SearchSpace(), np.random.default_rng(seed)
  groups = (MULTITASK, TRANSFER, held_out_tasks())
  jobs = []
  for i in range(count):
    iteration = i // ITERATION
    third = min(3 * i // count, 2)
    tasks = groups[third]
    jobs.append((tasks[iteration % len(tasks)], space.sample(rng), 1000 + i))
  return jobs


def check_data(jobs):
  """A one-line exit, not a stream of failed children, when a task is not built."""
  from mnms_tf import errors  # pylint: disable=g-import-not-at-top
  from mnms_tf import paths  # pylint: disable=g-import-not-at-top
  from mnms_tf.data.tasks import registry  # pylint: disable=g-import-not-at-top
  for task in sorted({task for task, _, _ in jobs}):
    try:
      registry.check_task(task, paths.default_data_dir())
    except errors.UserError as e:
      errors.exit_with('search_throughput', e)


def stored_stream(run_dirs, count):
  from mnms_tf.search import store as store_lib  # pylint: disable=g-import-not-at-top
  jobs = []
  for run_dir in run_dirs:
    with store_lib.TrialStore(run_dir, read_only=True) as store:
      jobs += [(r['task'], r['config'], r['seed']) for r in store.trials()]
  return jobs[:count]


def replay(stream_path):
  """Runs in a subprocess whose PYTHONPATH picks the code under test."""
  from mnms_tf import paths  # pylint: disable=g-import-not-at-top
  try:
    from mnms_tf.evaluation import workers  # pylint: disable=g-import-not-at-top
  except ImportError:  # a commit from before the package was cut into subpackages
    from mnms_tf import workers  # pylint: disable=g-import-not-at-top
  with open(stream_path) as f:
    jobs = [tuple(job) for job in json.load(f)]
  if _GROUP_SIZE.value > 1:
    import gin  # pylint: disable=g-import-not-at-top
    gin.bind_parameter('JobQueue.max_group_size', _GROUP_SIZE.value)
  results = [None] * len(jobs)
  started = time.time()
  with workers.ChildPool(_WORKERS.value, paths.default_data_dir()) as pool:
    for start in range(0, len(jobs), ITERATION):  # an iteration at a time, as a search
      batch = jobs[start:start + ITERATION]
      for index, result, _ in pool.run(batch):
        results[start + index] = dict(status=result.status, val_accuracy=result.val_accuracy,
                                      seconds=result.total_seconds)
  with open(stream_path + '.results', 'w') as f:
    json.dump({'seconds': time.time() - started, 'results': results}, f)


def _train(label, stream_path, pythonpath, group_size):
  print(f'{label}: training {_NUM_CHILDREN.value} children on {_WORKERS.value} workers ...',
        flush=True)
  env = dict(os.environ, PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL='3')
  subprocess.run([sys.executable, __file__, f'--replay={stream_path}',
                  f'--workers={_WORKERS.value}', f'--group_size={group_size}'], env=env,
                 check=True)
  with open(stream_path + '.results') as f:
    return json.load(f)


def main(argv):
  del argv
  if _REPLAY.value:
    return replay(_REPLAY.value)
  jobs = (stored_stream(_RUNS.value, _NUM_CHILDREN.value) if _RUNS.value else
          draw_stream(_NUM_CHILDREN.value, _SEED.value))
  check_data(jobs)
  fine_tuned = sum(config['trainable'] for _, config, _ in jobs)
  print(f'stream: {len(jobs)} children ({fine_tuned} fine-tuned), tasks '
        f'{sorted({task for task, _, _ in jobs})}')
  with tempfile.TemporaryDirectory() as tmp:
    baseline_tree = os.path.join(tmp, 'baseline')
    os.makedirs(baseline_tree)
    archive = subprocess.run(['git', '-C', REPO, 'archive', _BASELINE_REF.value, 'mnms_tf'],
                             capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', baseline_tree], input=archive, check=True)
    runs = {}
    for label, tree, group_size in (
        (f'baseline {_BASELINE_REF.value}', baseline_tree, 1), ('this checkout', REPO, 1),
        (f'this checkout, groups of {_GROUP_SIZE.value}', REPO, _GROUP_SIZE.value)):
      stream_path = os.path.join(tmp, f'stream-{len(runs)}.json')
      with open(stream_path, 'w') as f:
        json.dump(jobs, f)
      runs[label] = _train(label, stream_path, tree, group_size)
  rates = {}
  for label, run in runs.items():
    rates[label] = 60 * len(jobs) / run['seconds']
    kinds = {k: sum(r['seconds'] for r, (_, c, _) in zip(run['results'], jobs)
                    if c['trainable'] == k) for k in (False, True)}
    print(f'  {label:30} {run["seconds"]:7.1f} s  {rates[label]:6.2f} children/min  '
          f'(child-seconds: frozen {kinds[False]:.1f}, fine-tuned {kinds[True]:.1f})')
  (baseline_label, baseline), *others = runs.items()
  for label, run in others:
    gaps = [abs(a['val_accuracy'] - b['val_accuracy'])
            for a, b in zip(baseline['results'], run['results'])
            if a['status'] == b['status'] == 'ok']
    print(f'{label} / {baseline_label}: throughput ratio {rates[label] / rates[baseline_label]:.2f}; '
          f'validation accuracy |gap| over {len(gaps)} children: mean {np.mean(gaps):.4f}, '
          f'max {np.max(gaps):.4f}')


if __name__ == '__main__':
  app.run(main)
