r"""Where a child's time goes, per kind of child, and what this machine could do at best.

  python benchmarks/child_time.py [--num_children=8] [--threads=1] [--seed=0]

Three kinds, each --num_children configs drawn uniformly from the search space within the
kind: frozen (rt_snippets), fine-tuned short texts (rt_snippets) and fine-tuned long texts
(polarity_reviews). Each kind is trained once to warm up (module, caches, traces), then
again in this process with --threads TF threads (a search's worker on 2 cores with 2
workers has 1), and every phase of `ChildTrainer.train` is timed: weight reset, batch
draw, the training steps, evaluation (validation and test) and the rest. Then the same
children go through a 2-worker `ChildPool` one at a time: a trip's wall time less the
child's own `total_seconds` is transport (pipes, pickling, the pool's bookkeeping).

The limit: per step, the FLOPs of the MLP and the fine-tuned combiner and the bytes of
table rows gathered and scattered, against this process's measured matmul rate and
gather bandwidth; and the TF executor's cost per op (a loop of scalar adds) times the
ops of a step. A step far above all three is paying something else.
"""
import collections
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as trainer_lib
from mnms_tf.evaluation import workers
from mnms_tf import paths

_NUM_CHILDREN = flags.DEFINE_integer('num_children', 8, 'Children per kind.')
_THREADS = flags.DEFINE_integer('threads', 1, 'TF threads of this process (intra and inter).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the drawn configs.')

KINDS = {'frozen': ('rt_snippets', False), 'fine-tuned short texts': ('rt_snippets', True),
         'fine-tuned long texts': ('polarity_reviews', True)}
PHASES = ('reset', 'batches', 'steps', 'evaluation', 'other')


class PhaseTimer:
  """Wraps trainer methods so that their seconds add up per phase."""

  def __init__(self):
    self.seconds = collections.Counter()
    self._patched = []

  def wrap(self, owner, name, phase):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
      started = time.perf_counter()
      try:
        return original(*args, **kwargs)
      finally:
        self.seconds[phase] += time.perf_counter() - started
    setattr(owner, name, timed)
    self._patched.append((owner, name, original))

  def restore(self):
    for owner, name, original in reversed(self._patched):
      setattr(owner, name, original)


def draw_kind(space, rng, trainable, count):
  configs = []
  while len(configs) < count:
    config = space.sample(rng)
    if config['trainable'] == trainable:
      configs.append(config)
  return configs


def timed_phases(trainer, task, configs):
  """{phase: seconds} over training `configs` (seeds 0..) in this process."""
  timer = PhaseTimer()
  timer.wrap(trainer_lib._Architecture, 'reset', 'reset')  # pylint: disable=protected-access
  timer.wrap(trainer_lib._FineTunedTable, 'reset', 'reset')  # pylint: disable=protected-access
  timer.wrap(trainer, '_batches', 'batches')
  timer.wrap(trainer, '_accuracy', 'evaluation')
  try:
    results = [trainer.train(task, config, seed) for seed, config in enumerate(configs)]
  finally:
    timer.restore()
  failed = [r.message for r in results if r.status != result_lib.OK]
  if failed:
    raise SystemExit(f'child_time: a child failed: {failed[0]}')
  phases = dict(timer.seconds)
  phases['steps'] = sum(r.train_seconds for r in results)
  phases['other'] = sum(r.total_seconds for r in results) - sum(phases.values())
  return phases


def transport_seconds(pool, task, configs):
  """Per trip through `pool`, one child at a time: wall time less the child's own."""
  trips = []
  for seed, config in enumerate(configs):
    started = time.perf_counter()
    (_, result, _), = pool.run([(task, config, seed)])
    trips.append(time.perf_counter() - started - result.total_seconds)
  return trips


def matmul_rate(m, k, n, repeats=50):
  """FLOP/s of a [m, k] x [k, n] matmul in a traced loop (no per-call Python)."""
  a, b = tf.random.uniform([m, k]), tf.random.uniform([k, n])

  @tf.function
  def loop():
    return tf.foldl(lambda acc, _: acc + tf.reduce_sum(tf.matmul(a, b)), tf.range(repeats), 0.0)
  loop()
  started = time.perf_counter()
  loop().numpy()
  return 2 * m * k * n * repeats / (time.perf_counter() - started)


def gather_bandwidth(rows=1300, dim=128, table_rows=400_000, repeats=200):
  """Bytes/s of gathering then scattering random rows of a large table (read and write)."""
  table = tf.Variable(tf.random.uniform([table_rows, dim]))
  indices = tf.constant(np.random.default_rng(0).choice(table_rows, rows, replace=False),
                        tf.int32)

  @tf.function
  def loop():
    def body(i):
      table.scatter_update(tf.IndexedSlices(tf.gather(table, indices) * 0.5, indices))
      return i + 1
    return tf.while_loop(lambda i: i < repeats, body, [0])
  loop()
  started = time.perf_counter()
  loop()
  _ = table[0, 0].numpy()
  return 2 * rows * dim * 4 * repeats / (time.perf_counter() - started)


def seconds_per_op(repeats=20_000):
  """The executor's cost of one cheap op inside a traced while loop."""
  @tf.function
  def loop(n):
    return tf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, x * 1.0001 + 1.0),
                         [0, tf.constant(0.0)])
  loop(tf.constant(10))
  started = time.perf_counter()
  loop(tf.constant(repeats))[1].numpy()
  return (time.perf_counter() - started) / (repeats * 4)  # less, add, mul, add per turn


def step_ops(architecture):
  """Ops in one training step of `architecture`'s traced loop (its while body)."""
  concrete, = architecture.train_loop._list_all_concrete_functions()  # pylint: disable=protected-access
  bodies = [f for f in concrete.graph.as_graph_def().library.function
            if 'body' in f.signature.name]
  return max(len(f.node_def) for f in bodies)


def work_per_step(trainer, task, config, seed):
  """(FLOPs, bytes of table rows moved, distinct table rows) of one step, averaged over the
  child's first batches."""
  cache = trainer._cache(task, config['embedding'])  # pylint: disable=protected-access
  dim = int(trainer._module(config['embedding']).embeddings.shape[-1])  # pylint: disable=protected-access
  num_classes = len(set(cache.splits['train'].labels.tolist()))
  sizes = [dim] + [config['nnodes']] * config['nlayers'] + [num_classes]
  batch = trainer.batch_size
  # per multiply-add 2 FLOPs: forward, weight gradient, and input gradient but for a frozen
  # child's sentence vectors
  mlp = sum(2 * batch * i * o * (3 if layer or config['trainable'] else 2)
            for layer, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])))
  if not config['trainable']:
    return mlp, 0, 0
  positions, _, row_splits, _ = (t.numpy() for t in cache.bags('train'))
  # the child's first batches (its seeded epochs start alike whatever its length)
  batches = trainer._batches(len(row_splits) - 1, min(20, config['iterations']), seed).numpy()  # pylint: disable=protected-access
  distinct = np.mean([len(np.unique(np.concatenate(
      [positions[row_splits[r]:row_splits[r + 1]] for r in rows]))) for rows in batches])
  if trainer._trains_whole_vocabulary(cache, config):  # pylint: disable=protected-access
    distinct = len(cache.trained_rows())
  combiner = 4 * batch * distinct * dim  # forward, and the table rows' gradient
  # rows gathered: value, accumulator; scattered: both; the dense combiner written, read twice
  moved = 4 * (4 * distinct * dim + 3 * batch * distinct)
  return mlp + combiner, moved, distinct


def main(argv):
  del argv
  tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
  tf.config.threading.set_inter_op_parallelism_threads(_THREADS.value)
  space = search_space.SearchSpace()
  rng = np.random.default_rng(_SEED.value)
  trainer = trainer_lib.ChildTrainer()
  kinds = {kind: (task, draw_kind(space, rng, trainable, _NUM_CHILDREN.value))
           for kind, (task, trainable) in KINDS.items()}
  print(f'{_NUM_CHILDREN.value} children per kind, {_THREADS.value} TF thread(s); '
        'warming up ...', flush=True)
  for task, configs in kinds.values():
    timed_phases(trainer, task, configs)
  peak = matmul_rate(1024, 1024, 1024, repeats=10)
  bandwidth = gather_bandwidth()
  per_op = seconds_per_op()
  print(f'this process: matmul {peak / 1e9:.1f} GFLOP/s (1024^3), row gather+scatter '
        f'{bandwidth / 1e9:.2f} GB/s, {per_op * 1e6:.1f} us per executor op\n')
  print(f'{"kind":24} {"children":>8} ' + ' '.join(f'{p:>10}' for p in PHASES)
        + f' {"transport":>10}   (seconds per child)')
  limits = []
  with workers.ChildPool(2, paths.default_data_dir()) as pool:
    for kind, (task, configs) in kinds.items():
      transport_seconds(pool, task, configs)  # both workers warm
      phases = timed_phases(trainer, task, configs)
      trips = transport_seconds(pool, task, configs)
      n = len(configs)
      print(f'{kind:24} {n:8d} ' + ' '.join(f'{phases.get(p, 0.0) / n:10.4f}' for p in PHASES)
            + f' {np.mean(trips):10.4f}', flush=True)
      steps = sum(c['iterations'] for c in configs)
      work = [work_per_step(trainer, task, c, s) for s, c in enumerate(configs)]
      weights = np.array([c['iterations'] for c in configs]) / steps
      flops, moved, distinct = weights @ np.array(work, np.float64)
      architecture = trainer._architecture(  # pylint: disable=protected-access
          configs[0], trainer._trains_whole_vocabulary(  # pylint: disable=protected-access
              trainer._cache(task, configs[0]['embedding']), configs[0]))  # pylint: disable=protected-access
      ops = step_ops(architecture)
      limits.append((kind, phases['steps'] / steps, flops, moved, distinct, ops))
  print(f'\n{"kind":24} {"ms/step":>8} {"MFLOP":>7} {"at peak":>8} {"MB rows":>8} '
        f'{"at bw":>7} {"ops":>5} {"op cost":>8}  (per step, weighted by steps)')
  for kind, seconds, flops, moved, distinct, ops in limits:
    print(f'{kind:24} {1e3 * seconds:8.3f} {flops / 1e6:7.2f} {1e3 * flops / peak:8.3f} '
          f'{moved / 1e6:8.2f} {1e3 * moved / bandwidth:7.3f} {ops:5d} '
          f'{1e3 * ops * per_op:8.3f}' + (f'  ({distinct:.0f} table rows)' if distinct else ''))


if __name__ == '__main__':
  app.run(main)
