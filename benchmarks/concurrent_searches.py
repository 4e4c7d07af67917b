r"""Wall time of a suite experiment's held-out searches: one after another on the process
pool (what `reproduce --experiment=suite` does by default) against several at once as Ray
tasks (`--backend=ray --concurrent_searches=N --workers=1`), side by side in one run.

  python benchmarks/concurrent_searches.py [--held_out_tasks=2] [--iterations=10] \
      [--variants=scratch,random,warm_configs] [--concurrency=2,4] [--workers=2]

The protocol is mnms_tf/gin/search/suite.gin's with the first --held_out_tasks held-out
tasks, one seed, --variants and --iterations per search (`build_data --tasks=suite`
first). The pre-training (--pretraining_iterations) runs once, untimed, and every mode
starts from a copy of it. Times are wall clock from the first search's start to the last
one's end, worker, actor and Ray start-up included. Prints per mode the children, minutes,
children per minute, the ratio to the default and whether its trials are the default's.
"""
import dataclasses
import os
import shutil
import tempfile
import time

from absl import app
from absl import flags

from mnms_tf import configs
from mnms_tf.data import features
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf import paths
from mnms_tf.search import store as store_lib

_HELD_OUT_TASKS = flags.DEFINE_integer('held_out_tasks', 2, 'The first N held-out tasks.')
_ITERATIONS = flags.DEFINE_integer('iterations', 10, 'Iterations of 8 per held-out search.')
_PRETRAINING_ITERATIONS = flags.DEFINE_integer('pretraining_iterations', 8, 'Untimed.')
_VARIANTS = flags.DEFINE_list('variants', ['scratch', 'random', 'warm_configs'], 'Variants.')
_CONCURRENCY = flags.DEFINE_list('concurrency', ['2', '4'], 'Searches at once per Ray mode '
                                 '(one actor each).')
_WORKERS = flags.DEFINE_integer('workers', 2, 'Worker processes of the default mode.')


def _trials(root, jobs):
  rows = []
  for job in jobs:
    with store_lib.TrialStore(job.run_dir, read_only=True) as store:
      rows += [(os.path.relpath(job.run_dir, root), r['iteration'], r['slot'], r['config_hash'],
                r['seed'], r['status'], r['val_accuracy']) for r in store.trials()]
  return rows


def main(argv):
  del argv
  configs.parse(['search/suite.gin'], [])
  protocol = suite_experiment.Protocol()
  protocol = dataclasses.replace(
      protocol, held_out_tasks=protocol.held_out_tasks[:_HELD_OUT_TASKS.value], seeds=1,
      variants=tuple(_VARIANTS.value), held_out_iterations=_ITERATIONS.value,
      pretraining_iterations=_PRETRAINING_ITERATIONS.value)
  data_dir = paths.default_data_dir()
  work = tempfile.mkdtemp(prefix='concurrent_searches_')
  shared = os.path.join(work, 'pretrained')
  with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
    task_features = features.TaskFeatures.for_space(data_dir, evaluator.space)
    suite_experiment.pretrain(shared, protocol, evaluator, task_features)
  modes = [('processes, one after another', f'{_WORKERS.value} workers', None)] + [
      (f'ray, {k} at a time', '1 actor each', int(k)) for k in _CONCURRENCY.value]
  rows, reference = [], None
  for name, workers, concurrency in modes:
    root = os.path.join(work, f'mode_{len(rows)}')
    for kept in (suite_experiment.PRETRAIN, suite_experiment.VALUE_NETWORK):
      if os.path.exists(os.path.join(shared, kept)):
        shutil.copytree(os.path.join(shared, kept), os.path.join(root, kept))
    jobs = suite_experiment.held_out_searches(root, protocol)
    started = time.time()
    if concurrency is None:
      with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
        searches.run_here(jobs, evaluator, task_features)
    else:
      searches.RaySearches(concurrency, 1, data_dir).run(jobs)
    minutes = (time.time() - started) / 60
    trials = _trials(root, jobs)
    reference = reference or (trials, minutes)
    rows.append((name, workers, len(jobs), len(trials), minutes, len(trials) / minutes,
                 reference[1] / minutes, trials == reference[0]))
    print(f'{name}: {minutes:.2f} min', flush=True)
  print(f'\n{len(protocol.held_out_tasks)} held-out tasks x {len(protocol.variants)} variants, '
        f'{protocol.held_out_iterations} iterations of 8 each (work dir {work})')
  print('| mode | children trained by | searches | children | minutes | children/min | '
        'speed-up | same trials |')
  print('|---|---|---|---|---|---|---|---|')
  for name, workers, count, children, minutes, rate, ratio, same in rows:
    print(f'| {name} | {workers} | {count} | {children} | {minutes:.2f} | {rate:.1f} | '
          f'{ratio:.2f}x | {"yes" if same else "NO"} |')


if __name__ == '__main__':
  app.run(main)
