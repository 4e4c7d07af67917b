r"""What filling an iteration costs a search (search/proposals.py) against its children.

  python benchmarks/proposal_cost.py [--value_network=runs/benchmark/fold_0/value_network] \
      [--root_dir=runs/benchmark] [--history=64] [--repeats=20]

Times `SlotFiller.fill` for one iteration of 8 slots of the MNMS controller after
`--history` children of the task, side by side in this process: the paper's (the
controller's samples), with 2 re-train slots, model-assisted (16 candidates per slot, the
value network and its online correction), and both. The price is set against the children
of one iteration: 8 x the median child-seconds of the reference pool on each of the value
network's training tasks (the benchmark's ground truth under --root_dir), the axis the
benchmark's budget in child-seconds counts. Also printed: what each kind costs once per
search (its controller made; the value network loaded; the first fill, which traces).
"""
import dataclasses
import json
import os
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.controllers import agent as agent_lib
from mnms_tf.experiments import ground_truth
from mnms_tf.search import proposals
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import assisted
from mnms_tf.transfer import value_network as value_network_lib

_VALUE_NETWORK = flags.DEFINE_string('value_network', 'runs/benchmark/fold_0/value_network',
                                     'A fitted value network (mse loss).')
_ROOT_DIR = flags.DEFINE_string('root_dir', 'runs/benchmark',
                                'A benchmark whose ground truth gives the child-seconds.')
_HISTORY = flags.DEFINE_integer('history', 64, "The task's children before the iteration.")
_REPEATS = flags.DEFINE_integer('repeats', 20, 'Timed iterations per kind (after one).')
WIDTH = 8


def _filler(network, task, space, **settings):
  info = dict(children_per_iteration=WIDTH, retrain_slots=0, max_draws=4,
              candidates_per_slot=1, value_network=network.model_dir, acquisition=None,
              task_representations={task: network.info['task_representations'][task]},
              initial_config_list=None)
  info.update(settings)
  if info['candidates_per_slot'] > 1:
    info['acquisition'] = dataclasses.asdict(assisted.AcquisitionSettings())
  agent = agent_lib.MNMSAgent([task], space.sizes)
  return proposals.SlotFiller(info, agent, space, {task: -1})


def _history(space, count):
  rng = np.random.default_rng(0)
  rows = []
  for _ in range(count):
    config = space.sample(rng)
    rows.append(dict(config=config, config_hash=space.config_hash(config),
                     status=store_lib.OK, val_accuracy=float(rng.uniform(0.5, 0.9))))
  return rows


def time_fill(filler, history, repeats):
  """(seconds of the first `fill`, which traces its functions; seconds per later one)."""
  times = []
  for i in range(repeats + 1):
    started = time.perf_counter()
    filler.fill(i, filler.controller.task_names[0], [0] * WIDTH, history, set())
    times.append(time.perf_counter() - started)
  return times[0], float(np.mean(times[1:]))


def main(argv):
  del argv
  network = value_network_lib.load(_VALUE_NETWORK.value)
  space, task = network.space, network.info['tasks'][0]
  history = _history(space, _HISTORY.value)
  kinds = {'paper': {}, 'retrain 2 of 8': dict(retrain_slots=2),
           'assisted x16': dict(candidates_per_slot=16),
           'assisted x16 + retrain': dict(candidates_per_slot=16, retrain_slots=2)}
  seconds, once = {}, {}
  for kind, settings in kinds.items():
    started = time.perf_counter()
    filler = _filler(network, task, space, **settings)
    made = time.perf_counter() - started
    first, seconds[kind] = time_fill(filler, history, _REPEATS.value)
    once[kind] = made + first
  for kind, value in seconds.items():
    print(f'{kind:24s} {1000 * value:7.1f} ms per iteration of {WIDTH}; {once[kind]:5.2f} s '
          f'once (controller made, value network loaded, first fill traced)', flush=True)
  if not os.path.exists(os.path.join(_ROOT_DIR.value, ground_truth.FILENAME)):
    print(f'(no ground truth in {_ROOT_DIR.value}: no child-seconds to compare with)')
    return
  with open(os.path.join(_ROOT_DIR.value, 'benchmark.json')) as f:
    truth_seeds = json.load(f)['truth_seeds']
  with ground_truth.GroundTruthStore(_ROOT_DIR.value, read_only=True) as store:
    child = {t: float(np.median([v.seconds for v in store.truths(t, truth_seeds).values()]))
             for t in network.info['tasks']}
  print(f'\nextra cost per iteration / its children ({WIDTH} x the median pool child):')
  print('task'.ljust(22) + 'child s'.rjust(9) +
        ''.join(k.rjust(24) for k in kinds if k != 'paper'))
  for t, value in sorted(child.items(), key=lambda item: item[1]):
    print(t.ljust(22) + f'{value:9.2f}' + ''.join(
        f'{100 * (seconds[k] - seconds["paper"]) / (WIDTH * value):23.2f}%'
        for k in kinds if k != 'paper'))


if __name__ == '__main__':
  app.run(main)
