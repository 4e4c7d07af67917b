r"""What the controller costs a search: one iteration of it vs training one typical child.

  python benchmarks/controller_step.py [--batch_size=8] [--iterations=100] [--num_children=8] \
      [--task=rt_snippets] [--mode=off_policy]

One controller iteration = sample a batch of configs for one task + record their rewards +
the learner's updates (4 off-policy steps on replay batches of 32, by default), at the
default (gin) controller sizes over the default search space, two tasks. Rewards are
synthetic, so the controller has real work to do. A typical child is a config drawn
uniformly from the search space and trained by the fast path on --task; the first child
pays the one-off caches and is left out. Both are timed in this process, one after the other.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf.controllers import agent as agent_lib
from mnms_tf.evaluation import synthetic

_BATCH_SIZE = flags.DEFINE_integer('batch_size', 8, 'Configs sampled per iteration.')
_ITERATIONS = flags.DEFINE_integer('iterations', 100, 'Timed controller iterations.')
_NUM_CHILDREN = flags.DEFINE_integer('num_children', 8, 'Timed children (after one warm-up).')
_TASK = flags.DEFINE_string('task', 'rt_snippets', 'Task the children train on.')
_MODE = flags.DEFINE_enum('mode', agent_lib.OFF_POLICY, [agent_lib.OFF_POLICY, agent_lib.ON_POLICY],
                          'Controller training mode.')


def time_controller(space, batch_size, iterations, mode):
  """Seconds per iteration, after warm-up iterations that trace every function."""
  agent = agent_lib.MNMSAgent(['a', 'b'], space.sizes, agent_lib.AgentSettings(mode=mode))
  targets = [[size - 1 for size in space.sizes], [0] * len(space.sizes)]

  def iteration(i):
    task = i % 2
    actions, log_probabilities = agent.sample([task] * batch_size)
    rewards = [synthetic.match_accuracy(targets[task], a, 0) ** 3 for a in actions]
    agent.observe([task] * batch_size, actions, np.float32(rewards), log_probabilities, i)
    agent.train()

  for i in range(5):
    iteration(i)
  started = time.perf_counter()
  for i in range(5, 5 + iterations):
    iteration(i)
  return (time.perf_counter() - started) / iterations


def time_children(space, task, count):
  """Seconds of each of `count` uniformly drawn children, after one warm-up child."""
  trainer = child.ChildTrainer()
  rng = np.random.default_rng(0)
  trainer.train(task, space.sample(rng), seed=0)
  seconds = []
  for i in range(count):
    config = space.sample(rng)
    started = time.perf_counter()
    result = trainer.train(task, config, seed=i + 1)
    seconds.append(time.perf_counter() - started)
    print(f'  child {i}: {result.status} val {result.val_accuracy:.3f} {seconds[-1]:5.2f}s  '
          f'{search_space.to_json(config)}', flush=True)
  return seconds


def main(argv):
  del argv
  space = search_space.SearchSpace()
  controller_seconds = time_controller(space, _BATCH_SIZE.value, _ITERATIONS.value, _MODE.value)
  print(f'controller ({_MODE.value}, {len(space.sizes)} parameters, batch {_BATCH_SIZE.value}): '
        f'{1000 * controller_seconds:.1f} ms per iteration (sample + observe + train), '
        f'{1000 * controller_seconds / _BATCH_SIZE.value:.2f} ms per sampled child', flush=True)
  children = time_children(space, _TASK.value, _NUM_CHILDREN.value)
  median = float(np.median(children))
  print(f'typical child on {_TASK.value}: median {median:.2f}s '
        f'(min {min(children):.2f}s, max {max(children):.2f}s, {len(children)} children)')
  print(f'controller iteration / median child: {100 * controller_seconds / median:.2f}%')
  print(f'controller iteration / fastest child: {100 * controller_seconds / min(children):.2f}%')
  print(f'controller per sampled child / median child: '
        f'{100 * controller_seconds / _BATCH_SIZE.value / median:.3f}%')


if __name__ == '__main__':
  app.run(main)
