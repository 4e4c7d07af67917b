r"""Where a child's time goes, per TF op, from the TF profiler's trace.

  python benchmarks/profile_child.py [--task=polarity_reviews] [--embedding=en-dim128] \
      [--trainable] [--iterations=100] [--top=15] [--logdir=/tmp/mnms_profile]

Trains the child once to warm up (module, caches, trace), then again under
`tf.profiler.experimental` and prints the ops with the most self time (summed over the
run) from the trace (`xprof`, TensorBoard's profile plugin). The trace stays in --logdir:
`tensorboard --logdir=LOGDIR` shows it in the Profile tab.
"""
import collections
import glob
import json
import os

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf import errors

_TASK = flags.DEFINE_string('task', 'polarity_reviews', 'Task.')
_EMBEDDING = flags.DEFINE_string('embedding', 'en-dim128', 'Module slot.')
_TRAINABLE = flags.DEFINE_boolean('trainable', True, 'Fine-tune the embedding.')
_ITERATIONS = flags.DEFINE_integer('iterations', 100, 'Training steps (a search-space choice).')
_TOP = flags.DEFINE_integer('top', 15, 'Ops to print.')
_LOGDIR = flags.DEFINE_string('logdir', '/tmp/mnms_profile', 'Where the trace is written.')


def op_self_times(logdir):
  """{op type: (total ms, count)} of the TF executor's op events in the trace."""
  from xprof.convert import raw_to_tool_data  # pylint: disable=g-import-not-at-top
  paths = [max(glob.glob(f'{logdir}/**/*.xplane.pb', recursive=True), key=os.path.getmtime)]
  trace, _ = raw_to_tool_data.xspace_to_tool_data(paths, 'trace_viewer', {})
  events = json.loads(trace)['traceEvents']
  threads = {(e['pid'], e['tid']): e['args']['name'] for e in events
             if e.get('name') == 'thread_name'}
  totals, counts = collections.Counter(), collections.Counter()
  for e in events:
    thread = threads.get((e.get('pid'), e.get('tid')), '')
    if e.get('ph') == 'X' and thread.startswith('tf_Compute') and '::' not in e['name'] and (
        e['name'] not in ('Region', 'Process', 'ParallelFor')):  # the executor's own spans
      totals[e['name']] += e['dur'] / 1000
      counts[e['name']] += 1
  return {name: (ms, counts[name]) for name, ms in totals.most_common()}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  config = dict(embedding=_EMBEDDING.value, trainable=_TRAINABLE.value, nlayers=1, nnodes=100,
                learning_rate=0.1, iterations=_ITERATIONS.value, regularization=1e-4)
  try:
    config = search_space.SearchSpace().validate(config)
  except errors.UserError as e:
    errors.exit_with('profile_child', e)
  trainer = child.ChildTrainer()
  warm_up = trainer.train(_TASK.value, config, seed=0)
  if warm_up.status != result_lib.OK:
    errors.exit_with('profile_child', f'the child failed: {warm_up.message}')
  tf.profiler.experimental.start(_LOGDIR.value)
  result = trainer.train(_TASK.value, config, seed=1)
  tf.profiler.experimental.stop()
  print(f'{_TASK.value}, {config}: {result.train_seconds:.3f} s training under the profiler '
        f'({1000 * result.train_seconds / _ITERATIONS.value:.2f} ms/step)')
  times = op_self_times(_LOGDIR.value)
  total = sum(ms for ms, _ in times.values())
  print(f'{"op":36} {"ms":>9} {"share":>6} {"calls":>6}')
  for name, (ms, count) in list(times.items())[:_TOP.value]:
    print(f'{name:36} {ms:9.1f} {ms / total:6.1%} {count:6d}')


if __name__ == '__main__':
  app.run(main)
