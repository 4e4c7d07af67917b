r"""Resident memory over thousands of children trained in one process by the fast path.

  python benchmarks/child_memory.py [--num_children=2000] [--report_every=200]

Configs are drawn uniformly (fixed seed) over the whole search space except training
length, fixed at --iterations so that thousands of children fit in minutes; tasks
alternate between spanish_langid and rt_snippets. Prints RSS as it goes; flat RSS after the
first few hundred children (once every architecture and (task, module) cache exists)
means nothing grows per child.
"""
import os
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child

_NUM_CHILDREN = flags.DEFINE_integer('num_children', 2000, 'Children to train.')
_ITERATIONS = flags.DEFINE_integer('iterations', 100, 'Training steps of every child.')
_REPORT_EVERY = flags.DEFINE_integer('report_every', 200, 'Print RSS every this many children.')
_TASKS = ('spanish_langid', 'rt_snippets')


def rss_mib():
  with open('/proc/self/statm') as f:
    return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def main(argv):
  del argv
  space = search_space.SearchSpace(
      dict(search_space.DEFAULT_CHOICES, iterations=(_ITERATIONS.value,)))
  trainer = child.ChildTrainer(space=space)
  rng = np.random.default_rng(0)
  started, failed, samples = time.time(), 0, []
  print(f'{"children":>8} {"RSS MiB":>8} {"children/min":>12} {"failed":>6}', flush=True)
  for i in range(1, _NUM_CHILDREN.value + 1):
    result = trainer.train(_TASKS[i % 2], space.sample(rng), seed=i)
    failed += result.status != result_lib.OK
    if i % _REPORT_EVERY.value == 0 or i == 1:
      samples.append((i, rss_mib()))
      print(f'{i:8d} {samples[-1][1]:8.0f} {60 * i / (time.time() - started):12.1f} {failed:6d}',
            flush=True)
  later = [rss for count, rss in samples if count >= _NUM_CHILDREN.value // 4]
  print(f'RSS from child {_NUM_CHILDREN.value // 4} to {_NUM_CHILDREN.value}: '
        f'{min(later):.0f} to {max(later):.0f} MiB (growth {later[-1] - later[0]:+.0f} MiB)')


if __name__ == '__main__':
  app.run(main)
