"""What the search runner needs of a controller, and the factory that makes one.

A controller proposes configs (as one action index per search-space parameter) for a
task and learns from their rewards. The runner knows nothing else about it: the MNMS
agent (mnms_tf/agent.py), random search (mnms_tf/random_search.py) and the peers a user
would pick instead (Optuna's TPE, Keras Tuner's Bayesian optimisation: mnms_tf/peers.py)
all implement `Controller`, behind the same six calls.

`ControllerFactory` is what the runner is handed (like dopamine's `create_agent_fn`): its
`describe()` goes into run.json, and `from_description` rebuilds it from there, so a
run's controller restores without the gin config that started it.
"""
import dataclasses
from typing import Protocol

import gin

from mnms_tf import agent as agent_lib
from mnms_tf import errors
from mnms_tf import peers
from mnms_tf import random_search
from mnms_tf import search_space

ControllerError = errors.ControllerError
KINDS = ('mnms', 'random') + tuple(peers.PROPOSERS)


class Controller(Protocol):
  """task_names: the tasks it can sample for, in the order of their indices."""
  task_names: list

  def task_index(self, name):
    """The index of task `name`; ControllerError if it is not one of task_names."""

  def sample(self, tasks):
    """(actions [B, K] int, log-probabilities [B] of drawing them) for task indices `tasks`."""

  def log_probabilities(self, tasks, actions):
    """[B] log-probabilities that sample() would draw `actions` [B, K] for `tasks`."""

  def observe(self, tasks, actions, rewards, log_probabilities, iteration):
    """Records a batch of sampled configs and their rewards."""

  def train(self):
    """Learns from what it observed; returns scalars to log (a dict of floats)."""

  def checkpoint(self):
    """A tf.train.Checkpoint of everything a resumed search needs, RNG included."""


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ControllerFactory:
  """`kind`: 'mnms' (the paper's controller; `agent` settings), 'random' (uniform), 'tpe'
  (Optuna) or 'keras_tuner' (Bayesian optimisation); the peers' settings are gin's
  `tpe_sampler` and `bayesian_oracle`."""
  kind: str = 'mnms'
  agent: agent_lib.AgentSettings = dataclasses.field(default_factory=agent_lib.AgentSettings)

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ControllerError(f'ControllerFactory.kind must be one of {KINDS}, got {self.kind!r}')

  def __call__(self, task_names, sizes, seed):
    """A fresh controller over `task_names` for a search space of choice `sizes`."""
    if self.kind == 'random':
      return random_search.RandomSampler(task_names, sizes, seed=seed)
    if self.kind in peers.PROPOSERS:
      space = search_space.SearchSpace()
      if space.sizes != tuple(sizes):
        raise ControllerError(f'A {self.kind} search needs the search space bound in gin; '
                              f'it has choices {space.sizes}, the search {tuple(sizes)}')
      return peers.create(self.kind, task_names, space, seed)
    return agent_lib.MNMSAgent(task_names, sizes, self.agent, seed=seed)

  def describe(self):
    return {'kind': self.kind,
            'agent': dataclasses.asdict(self.agent) if self.kind == 'mnms' else None}

  @classmethod
  def from_description(cls, description):
    agent = description.get('agent')
    return cls(kind=description['kind'],
               agent=agent_lib.AgentSettings.from_dict(agent) if agent else
               agent_lib.AgentSettings())
