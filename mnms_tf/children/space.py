"""The child search space, as plain data: parameter name -> its discrete choices.

The controller sees a config as one action index per parameter, in this order. Values
are reconstructed (our copy of the paper lost its numbers) and all rebindable in gin:
`SearchSpace.choices = {...}`.

Some parameters cannot affect a child in some configs: the units per layer of a net with
no hidden layer. `SearchSpace.inactive` says so as data (parameter -> (the parameter it
depends on, the values that make it irrelevant)); the canonical form of a config sets such
parameters to None, and the config hash is that of the canonical form, so the trial
store and `search.reuse_evaluated` treat configs that train the same child as one.
"""
import hashlib
import json
import math

import gin

from mnms_tf import errors

DEFAULT_CHOICES = {
    'embedding': ('en-dim50', 'en-dim128', 'es-dim50', 'es-dim128'),
    'trainable': (False, True),
    'nlayers': (0, 1, 2, 3),
    'nnodes': (10, 50, 100, 200),
    'learning_rate': (0.003, 0.01, 0.03, 0.1, 0.3),
    'iterations': (100, 500, 1000, 2000),
    'regularization': (0.0, 1e-4, 1e-3, 1e-2),
}
DEFAULT_INACTIVE = {'nnodes': ('nlayers', (0,))}


class InvalidConfigError(errors.UserError, ValueError):
  pass


def _same(a, b):
  if isinstance(a, bool) or isinstance(b, bool):
    return a is b
  if isinstance(a, (int, float)) and isinstance(b, (int, float)):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
  return a == b


@gin.configurable
class SearchSpace:
  """Ordered discrete choices; converts between configs and controller actions."""

  def __init__(self, choices=None, inactive=None):
    self.choices = {k: tuple(v) for k, v in (choices or DEFAULT_CHOICES).items()}
    for key, values in self.choices.items():
      if not values:
        raise InvalidConfigError(f'Search-space parameter {key!r} has no choices')
    self.inactive = {k: (on, tuple(values))
                     for k, (on, values) in (DEFAULT_INACTIVE if inactive is None else
                                             inactive).items()}

  def describe(self):
    """Plain data that rebuilds this space: SearchSpace(**space.describe())."""
    return {'choices': {k: list(v) for k, v in self.choices.items()},
            'inactive': {k: [on, list(values)] for k, (on, values) in self.inactive.items()}}

  @property
  def keys(self):
    return tuple(self.choices)

  @property
  def sizes(self):
    return tuple(len(v) for v in self.choices.values())

  @property
  def num_configs(self):
    return math.prod(self.sizes)

  def index(self, key, value):
    for i, choice in enumerate(self.choices[key]):
      if _same(choice, value):
        return i
    raise InvalidConfigError(
        f'{key}={value!r} is not a choice; choices for {key}: {list(self.choices[key])}')

  def validate(self, config):
    """Returns `config` with its values replaced by the canonical choices."""
    if not isinstance(config, dict):
      raise InvalidConfigError(f'A config is a JSON object, got {type(config).__name__}')
    missing = [k for k in self.keys if k not in config]
    unknown = [k for k in config if k not in self.choices]
    if missing or unknown:
      raise InvalidConfigError(
          f'Config keys must be exactly {list(self.keys)}; missing {missing}, unknown {unknown}')
    return {k: self.choices[k][self.index(k, config[k])] for k in self.keys}

  def to_actions(self, config):
    config = self.validate(config)
    return [self.index(k, config[k]) for k in self.keys]

  def to_config(self, actions):
    actions = [int(a) for a in actions]
    if len(actions) != len(self.keys):
      raise InvalidConfigError(f'Expected {len(self.keys)} actions, got {len(actions)}')
    for key, action, size in zip(self.keys, actions, self.sizes):
      if not 0 <= action < size:
        raise InvalidConfigError(f'Action {action} for {key} is outside [0, {size})')
    return {k: self.choices[k][a] for k, a in zip(self.keys, actions)}

  def canonical(self, config):
    """`config` with every parameter that cannot affect the child set to None."""
    config = dict(config)
    for key, (on, values) in self.inactive.items():
      if key in config and any(_same(config.get(on), v) for v in values):
        config[key] = None
    return config

  def config_hash(self, config):
    """A short stable id of the child a config trains, for dedupe and joins across runs."""
    return hashlib.sha256(to_json(self.canonical(config)).encode()).hexdigest()[:16]

  def sample(self, rng):
    """A uniformly random config; `rng` is a numpy Generator."""
    return self.to_config([rng.integers(size) for size in self.sizes])


def to_json(config):
  """Canonical JSON: sorted keys, no spaces; equal configs give equal strings."""
  return json.dumps(config, sort_keys=True, separators=(',', ':'))


def from_json(text, space=None):
  try:
    config = json.loads(text)
  except ValueError as e:
    raise InvalidConfigError(f'Config is not valid JSON ({e}): {text!r}') from e
  return (space or SearchSpace()).validate(config)


def config_hash(config, space=None):
  """`SearchSpace.config_hash` in the space bound in gin (or `space`)."""
  return (space or SearchSpace()).config_hash(config)


def graph_key(task_name, config):
  """What children must share to train as one stacked group (children/stacked.py): task,
  module, fine-tuning and depth; width, rate, l2, length and seed may differ."""
  return (task_name, config['embedding'], bool(config['trainable']), config['nlayers'])
