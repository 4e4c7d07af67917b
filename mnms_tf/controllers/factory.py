"""What the search runner needs of a controller, and the factory that makes one.

A controller proposes configs (as one action index per search-space parameter) for a
task and learns from their rewards. The runner knows nothing else about it: the MNMS
agent (agent.py here), random search (random_search.py) and the peers a user would pick
instead (Optuna's TPE, Keras Tuner's Bayesian optimisation, SMAC3: peers.py) and the
differentiable search (differentiable.py) all implement `Controller`, behind the same seven
calls.

`ControllerFactory` is what the runner is handed (like dopamine's `create_agent_fn`): its
`describe()` goes into run.json (the agent's settings, or a peer's), and `from_description`
rebuilds it from there, so a run's controller restores without the gin config that started
it, and a resume with other settings is refused.
"""
import dataclasses
from typing import Protocol

import gin

from mnms_tf.controllers import agent as agent_lib
from mnms_tf.controllers import differentiable
from mnms_tf.controllers import peers
from mnms_tf.controllers import random_search
from mnms_tf import errors

ControllerError = errors.ControllerError
# kind -> the gin-bound settings of a controller that takes them as plain data (`peer`).
SETTINGS = dict(peers.SETTINGS, darts=differentiable.settings)
KINDS = ('mnms', 'random') + tuple(SETTINGS)


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

  def training_seconds(self):
    """task name -> seconds the controller itself trained for it (a supernet) besides the
    children: a search's cost that the trial store keeps beside theirs ({}: none)."""


@gin.configurable(denylist=['peer'])
@dataclasses.dataclass(frozen=True)
class ControllerFactory:
  """`kind`: 'mnms' (the paper's controller; `agent` settings), 'random' (uniform), 'tpe'
  (Optuna), 'keras_tuner' (Bayesian optimisation), 'smac' (SMAC3) or 'darts' (the
  differentiable search). `peer`: the settings of a peer or of the differentiable search
  (plain data); None takes what gin's `tpe_sampler`, `bayesian_oracle`, `smac_optimizer` or
  `differentiable_search` binds when the factory is made, so that the factory, not the gin
  config at each proposal, defines the run."""
  kind: str = 'mnms'
  agent: agent_lib.AgentSettings = dataclasses.field(default_factory=agent_lib.AgentSettings)
  peer: dict = dataclasses.field(default=None, hash=False)

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ControllerError(f'ControllerFactory.kind must be one of {KINDS}, got {self.kind!r}')
    if self.kind not in SETTINGS:
      if self.peer is not None:
        raise ControllerError(f'A {self.kind} controller takes no peer settings, got '
                              f'{self.peer!r}')
    else:
      object.__setattr__(self, 'peer', dict(SETTINGS[self.kind]() if self.peer is None
                                            else self.peer))

  def __call__(self, task_names, space, seed, trainer=None, sources=None):
    """A fresh controller over `task_names` for the search space `space` (the search's,
    built once: children/space.py). For 'darts': `trainer`, the search's ChildTrainer, on
    whose data it trains supernets, and `sources`, each task's warm start
    (warm_start.architecture_sources)."""
    if self.kind == 'random':
      return random_search.RandomSampler(task_names, space.sizes, seed=seed)
    if self.kind in peers.PROPOSERS:
      return peers.create(self.kind, task_names, space, seed, self.peer)
    if self.kind == 'darts':
      return differentiable.DifferentiableSearch(task_names, space, seed, self.peer, trainer,
                                                 sources)
    return agent_lib.MNMSAgent(task_names, space.sizes, self.agent, seed=seed)

  @property
  def synchronous_only(self):
    """Whether the controller must learn from each iteration before sampling the next:
    on-policy REINFORCE assumes samples of the policy it updates."""
    return self.kind == 'mnms' and self.agent.mode == agent_lib.ON_POLICY

  def describe(self):
    return {'kind': self.kind,
            'agent': dataclasses.asdict(self.agent) if self.kind == 'mnms' else None,
            'peer': dict(self.peer) if self.peer is not None else None}

  @classmethod
  def from_description(cls, description):
    """The factory that `describe()` gave, every setting explicit (gin binds none). A
    description without peer settings (run.json before 2026-12-02) gets the defaults then."""
    agent = description.get('agent')
    return cls(kind=description['kind'],
               agent=agent_lib.AgentSettings.from_dict(agent) if agent else
               agent_lib.AgentSettings(),
               peer=description.get('peer', peers.DEFAULTS.get(description['kind'])))
