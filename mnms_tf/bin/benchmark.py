r"""The benchmark: the true accuracy of the model each method would deploy, every task held out.

  python -m mnms_tf.bin.benchmark [--scale=default|quick] [--root_dir=DIR] [--workers=N] \
      [--output_dir=DIR] [--skip_search] [--gin_bindings="Benchmark.methods = [...]"]

Runs (or resumes: run it again to continue) the reference pool's ground truth, every
fold's pre-training and held-out searches, and the ground truth of every deployed config
(mnms_tf/experiments/benchmark.py), then writes benchmark_summary.csv, benchmark_tasks.csv,
benchmark.md, benchmark_summary.png and benchmark_tasks.png. --scale picks
mnms_tf/gin/benchmark/{default,quick}.gin; the default root is runs/benchmark (quick:
runs/benchmark_quick) and the default output paper_figures (quick: ROOT/report).
--skip_search only writes the report from what is measured.

The default scale is longer than a session on 2 cores; to continue it on another machine:
  python -m mnms_tf.bin.benchmark --skip_search --save_state_to=paper_figures/benchmark_state.tar.gz
  (there) python -m mnms_tf.bin.benchmark --resume_from=paper_figures/benchmark_state.tar.gz
"""
import os

from absl import app
from absl import flags
from absl import logging
import gin

from mnms_tf.children import space as search_space
from mnms_tf import cli
from mnms_tf import configs
from mnms_tf.data import features
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import benchmark as benchmark_lib
from mnms_tf.experiments import ground_truth
from mnms_tf.experiments.figures import benchmark_report
from mnms_tf.search import store as store_lib

_SCALE = flags.DEFINE_enum('scale', 'default', ['default', 'quick'],
                           'The benchmark\'s scale: mnms_tf/gin/benchmark/SCALE.gin.')
_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None,
                       'Benchmark directory (default: runs/benchmark, or runs/benchmark_quick).')
_OUTPUT_DIR, _SKIP_SEARCH = cli.define_outputs()  # --output_dir default: quick, ROOT/report
_GROUND_TRUTH_FROM = flags.DEFINE_string(
    'ground_truth_from', None, 'A ground-truth store (another root\'s ground_truth.sqlite) '
    'that a new root directory starts from: its children trained by the same trainer on the '
    'same data are not trained again (the quick scale\'s pool and seeds are a prefix of the '
    'default\'s).')
_RESUME_FROM = flags.DEFINE_string(
    'resume_from', None, 'A saved state (--save_state_to) to continue from on this machine: '
    'unpacked into a new root directory first.')
_SAVE_STATE_TO = flags.DEFINE_string(
    'save_state_to', None, 'Write the root directory\'s state (protocol, ground truth, '
    'pre-trainings, finished searches; not their checkpoints) to this archive, after any '
    'searching and before the report: how a benchmark longer than one machine\'s session '
    'continues on another.')
_WORKERS = cli.define_workers()
_BACKEND, _RAY_ADDRESS = cli.define_backend(evaluators.BACKENDS)
cli.define_data_dir()
cli.define_gin_flags()

def _start_ground_truth_from(source, root_dir):
  target = os.path.join(root_dir, ground_truth.FILENAME)
  if os.path.exists(target):
    raise errors.UserError(f'{target} exists: --ground_truth_from starts a new root '
                           f'directory only (nothing was changed)')
  store_lib.snapshot(source, target)
  logging.info('benchmark: ground truth starts from %s', source)


def main(argv):
  del argv
  quick = _SCALE.value == 'quick'
  root_dir = os.path.abspath(_ROOT_DIR.value or
                             ('runs/benchmark_quick' if quick else 'runs/benchmark'))
  output_dir = _OUTPUT_DIR.value or (os.path.join(root_dir, 'report') if quick else
                                     cli.PAPER_FIGURES)
  data_dir = cli.data_dir()
  try:
    with gin.unlock_config():
      gin.clear_config()
      configs.parse([f'benchmark/{_SCALE.value}.gin'] + list(flags.FLAGS.gin_file),
                    flags.FLAGS.gin_bindings)
    benchmark = benchmark_lib.Benchmark()
    if _RESUME_FROM.value:
      benchmark_lib.restore_state(_RESUME_FROM.value, root_dir)
    if _GROUND_TRUTH_FROM.value:
      _start_ground_truth_from(_GROUND_TRUTH_FROM.value, root_dir)
    if not _SKIP_SEARCH.value:
      with evaluators.Children(data_dir, _WORKERS.value, _BACKEND.value,
                               _RAY_ADDRESS.value) as evaluator:
        task_features = features.TaskFeatures.for_space(data_dir, evaluator.space)
        benchmark_lib.run(root_dir, benchmark, evaluator, task_features)
    if _SAVE_STATE_TO.value:
      saved = benchmark_lib.save_state(root_dir, benchmark, _SAVE_STATE_TO.value)
      logging.info('benchmark: state with %d finished searches saved to %s', saved,
                   _SAVE_STATE_TO.value)
    try:
      lines = benchmark_report.make(root_dir, benchmark, search_space.SearchSpace(),
                                    output_dir)
    except benchmark_report.NothingToReport as e:
      if not _SAVE_STATE_TO.value:
        raise
      logging.warning('benchmark: no report yet (%s)', e)
      return
    print('\n'.join(lines))
    logging.info('benchmark: report in %s', output_dir)
  except errors.UserError as e:
    errors.exit_with('benchmark', e)


if __name__ == '__main__':
  app.run(main)
