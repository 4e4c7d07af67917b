r"""Transfer vs scratch on synthetic rewards: samples until a new task c is solved.

  python benchmarks/controller_transfer.py [--seeds=5] [--budget=3200] \
      [--gin_bindings='MNMSAgent.entropy_weight = 0.05']

For each seed: a controller learns tasks a and b (targets differing in every parameter)
until both are solved; then task c (sharing 5 of 7 choices with a) is searched with that
controller transferred (new task embedding, empty replay bank) and with a fresh controller
of the same seed. Solved = greedy decoding is the target and every target choice has
probability >= 0.9 (see mnms_tf/synthetic.py). A run that does not solve c counts as the
budget. Prints both per seed and their means, side by side.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf import configs
from mnms_tf import learner
from mnms_tf import search_space
from mnms_tf import synthetic

_SEEDS = flags.DEFINE_integer('seeds', 5, 'Seeds to average over.')
_BUDGET = flags.DEFINE_integer('budget', 3200, 'Samples allowed for each search.')
configs.define_gin_flags()


def main(argv):
  del argv
  configs.parse_gin_flags()
  sizes = search_space.SearchSpace().sizes
  targets = synthetic.example_targets(sizes)
  budget = _BUDGET.value
  transferred, scratch = [], []
  for seed in range(_SEEDS.value):
    started = time.time()
    agent = learner.MNMSAgent(['a', 'b'], sizes, seed=seed)
    pretraining = synthetic.search(agent, {'a': targets['a'], 'b': targets['b']}, budget,
                                   seed=seed)
    transferred.append(synthetic.search(agent.with_new_tasks(['c'], seed=seed),
                                        {'c': targets['c']}, budget, seed=seed) or budget)
    scratch.append(synthetic.search(learner.MNMSAgent(['c'], sizes, seed=seed),
                                    {'c': targets['c']}, budget, seed=seed) or budget)
    print(f'seed {seed}: a+b solved after {pretraining} samples; c solved after '
          f'{transferred[-1]} (transferred) vs {scratch[-1]} (scratch)  '
          f'[{time.time() - started:.0f}s]', flush=True)
  print(f'mean samples to solve c: transferred {np.mean(transferred):.0f}, '
        f'scratch {np.mean(scratch):.0f}, ratio transferred/scratch '
        f'{np.mean(transferred) / np.mean(scratch):.2f}')


if __name__ == '__main__':
  app.run(main)
