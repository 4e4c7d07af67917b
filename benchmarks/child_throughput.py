r"""Children per minute: plain Keras `model.fit` on raw strings vs the fast path, side by side.

  python benchmarks/child_throughput.py [--num_configs=12] [--task=rt_snippets] [--seed=0]

Both paths train the same configs (half frozen, half fine-tuned, drawn with a fixed seed)
with the same seeds, in one process, twice over. The first (cold) pass pays everything once:
module loading, caching, tracing; the second (warm) pass is what a long search sees, where
those costs are spread over thousands of children. The plain path caches nothing, so its
passes cost the same. Exits 1 if the two paths' validation accuracies differ by more than
--max_mean_gap on average.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors

_NUM_CONFIGS = flags.DEFINE_integer('num_configs', 12, 'Configs to train with each path.')
_TASK = flags.DEFINE_string('task', 'rt_snippets', 'Task to train on.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the config sample.')
_MAX_MEAN_GAP = flags.DEFINE_float('max_mean_gap', 0.02, 'Allowed mean |val acc difference|.')


def sample_configs(count, seed):
  """`count` configs, alternately frozen and fine-tuned."""
  space = search_space.SearchSpace()
  rng = np.random.default_rng(seed)
  return [dict(space.sample(rng), trainable=bool(i % 2)) for i in range(count)]


def _run(name, train_fn, configs):
  results, started = [], time.time()
  for i, config in enumerate(configs):
    results.append(train_fn(_TASK.value, config, seed=i))
    r = results[-1]
    print(f'  {name:10} {i:2d}: {r.status:6} val {r.val_accuracy:.3f} {r.total_seconds:6.1f}s  '
          f'{search_space.to_json(config)}', flush=True)
  return results, time.time() - started


def _report(label, configs, naive, naive_seconds, fast, fast_seconds):
  naive_rate, fast_rate = 60 * len(configs) / naive_seconds, 60 * len(configs) / fast_seconds
  print(f'\n{label}: {len(configs)} children on {_TASK.value} '
        f'({sum(c["trainable"] for c in configs)} fine-tuned, '
        f'{sum(c["iterations"] for c in configs)} steps in all)')
  print(f'  keras model.fit on raw strings: {naive_seconds:7.1f}s  {naive_rate:6.2f} children/min')
  print(f'  fast path:                      {fast_seconds:7.1f}s  {fast_rate:6.2f} children/min')
  print(f'  throughput ratio fast/keras: {fast_rate / naive_rate:.2f}')
  for kind, trainable in (('frozen', False), ('fine-tuned', True)):
    keras_s = sum(r.total_seconds for r, c in zip(naive, configs) if c['trainable'] == trainable)
    fast_s = sum(r.total_seconds for r, c in zip(fast, configs) if c['trainable'] == trainable)
    print(f'    {kind:10} children: keras {keras_s:6.1f}s, fast {fast_s:6.1f}s, '
          f'ratio {keras_s / max(fast_s, 1e-9):.2f}')


def main(argv):
  del argv
  try:
    task_registry.get_task(_TASK.value)
  except errors.UserError as e:
    errors.exit_with('child_throughput', e)
  configs = sample_configs(_NUM_CONFIGS.value, _SEED.value)
  trainer = child.ChildTrainer()
  runs = {}
  for label in ('cold', 'warm'):
    runs[label] = (*_run(f'keras/{label}', child.train_keras, configs),
                   *_run(f'fast/{label}', trainer.train, configs))
  for label, (naive, naive_seconds, fast, fast_seconds) in runs.items():
    _report(f'{label} pass', configs, naive, naive_seconds, fast, fast_seconds)
  naive, _, fast, _ = runs['cold']
  failed = [r for r in naive + fast if r.status != result_lib.OK]
  if failed:
    errors.exit_with('child_throughput',
                     f'{len(failed)} children failed, e.g.: {failed[0].message}')
  gaps = [abs(a.val_accuracy - b.val_accuracy) for a, b in zip(naive, fast)]
  print(f'\nvalidation accuracy: keras mean {np.mean([r.val_accuracy for r in naive]):.3f}, '
        f'fast mean {np.mean([r.val_accuracy for r in fast]):.3f}, '
        f'mean |gap| {np.mean(gaps):.3f}, max |gap| {np.max(gaps):.3f}')
  if np.mean(gaps) > _MAX_MEAN_GAP.value:
    raise SystemExit(f'FAIL: mean accuracy gap {np.mean(gaps):.3f} > {_MAX_MEAN_GAP.value}')
  print('accuracy check: OK')


if __name__ == '__main__':
  app.run(main)
