"""The searchers a user would pick instead of MNMS, behind the controller interface.

Optuna's TPE (`ControllerFactory.kind = 'tpe'`), Keras Tuner's Bayesian optimisation
oracle (`'keras_tuner'`) and SMAC3's random-forest Bayesian optimisation with
intensification (`'smac'`), each driven through its library's ask/tell API, run by the same
runner as MNMS: the same children, child seeds, budget, store and resume. So a comparison
of searchers differs only in what each proposes.

- Objective: the reward the MNMS controller learns from (validation accuracy **
  `ChildTrainer.reward_exponent`), a monotone transform of the accuracy.
- Batches: the runner asks for `children_per_iteration` configs at once (and, pipelined,
  before the previous batch is told). Asked but untold configs are given to the library as
  running trials, which is how each handles parallel workers: TPE with its constant liar,
  Keras Tuner by hallucinating their scores.
- One study per task: neither library shares what it learned across tasks.
- Resume is exact. The checkpoint holds the told (task, config, reward) and the asked but
  untold configs; every batch rebuilds the study (or oracle) from them with a seed drawn
  from (seed, batches asked). Rebuilding costs a little per batch, nothing next to a child.
- Peers have no policy: their log-probabilities are 0 (the runner's entropy scalar reads 0).
- SMAC runs with `deterministic=False`: its intensifier re-trains incumbents on new seeds
  (up to `max_config_calls` draws of a config), which the runner trains with the slot's own
  child seed; the k-th draw of a config is told to SMAC as its k-th seed. Rebuilt from the
  history each batch like the others, its intensifier's queue restarts from the runhistory
  each time (which SMAC supports: it queues the configs it finds there); its seed is the
  run's, so that the initial design is the same list in every rebuild.
- Settings: gin's `tpe_sampler.*`, `bayesian_oracle.*` and `smac_optimizer.*`, resolved
  once (`settings`) into
  the controller factory, which records them in run.json: a resume with others is refused,
  and a restored peer proposes as the run did, whatever the caller's gin binds.
"""
import functools
import tempfile
import warnings

import gin
import numpy as np
import tensorflow as tf

from mnms_tf import errors


class _History(tf.Module):
  """Told (task, actions, reward) rows and asked-but-untold (task, actions) rows, oldest
  first, and the batches asked: everything a peer's next proposal depends on."""

  def __init__(self, num_parameters):
    super().__init__(name='history')

    def rows(dtype, *shape):
      return tf.Variable(tf.zeros([0, *shape], dtype), shape=tf.TensorShape([None, *shape]))

    self.told_tasks, self.told_actions = rows(tf.int64), rows(tf.int64, num_parameters)
    self.told_rewards = rows(tf.float64)
    self.pending_tasks, self.pending_actions = rows(tf.int64), rows(tf.int64, num_parameters)
    self.batches = tf.Variable(0, dtype=tf.int64)

  def told(self, task):
    mine = self.told_tasks.numpy() == task
    return self.told_actions.numpy()[mine], self.told_rewards.numpy()[mine]

  def pending(self, task):
    return self.pending_actions.numpy()[self.pending_tasks.numpy() == task]

  def ask(self, tasks, actions):
    self.pending_tasks.assign(np.concatenate([self.pending_tasks.numpy(), tasks]))
    self.pending_actions.assign(np.concatenate([self.pending_actions.numpy(), actions]))
    self.batches.assign_add(1)

  def tell(self, tasks, actions, rewards):
    """The runner tells batches in the order it asked them; the configs told may differ
    from those asked (a warm start's given configs replace the first ones)."""
    self.told_tasks.assign(np.concatenate([self.told_tasks.numpy(), tasks]))
    self.told_actions.assign(np.concatenate([self.told_actions.numpy(), actions]))
    self.told_rewards.assign(np.concatenate([self.told_rewards.numpy(), rewards]))
    self.pending_tasks.assign(self.pending_tasks.numpy()[len(tasks):])
    self.pending_actions.assign(self.pending_actions.numpy()[len(tasks):])


class _Peer(tf.Module):
  """A `controller.Controller` whose configs come from `propose(space, told_actions,
  told_rewards, pending_actions, count, seed, settings)`, a function of the task's history."""

  def __init__(self, task_names, space, seed, propose, settings, name):
    super().__init__(name=name)
    self.task_names = list(task_names)
    self.space = space
    self.seed = seed
    self.propose = propose
    self.settings = dict(settings)
    self.history = _History(len(space.sizes))

  def task_index(self, name):
    if name not in self.task_names:
      raise errors.ControllerError(f'Task {name!r} is not one of {self.task_names}')
    return self.task_names.index(name)

  def sample(self, tasks):
    tasks = np.asarray(tasks, np.int64)
    seed = int(np.random.SeedSequence([self.seed, int(self.history.batches)])
               .generate_state(1)[0] >> 1)
    actions = np.zeros([len(tasks), len(self.space.sizes)], np.int64)
    for task in np.unique(tasks):
      slots = np.flatnonzero(tasks == task)
      actions[slots] = self.propose(self.space, *self.history.told(task),
                                    self.history.pending(task), len(slots), seed,
                                    self.settings)
    self.history.ask(tasks, actions)
    return actions, np.zeros([len(tasks)], np.float32)

  def log_probabilities(self, tasks, actions):
    del actions
    return np.zeros([len(tasks)], np.float32)

  def observe(self, tasks, actions, rewards, log_probabilities, iteration):
    del log_probabilities, iteration
    self.history.tell(np.asarray(tasks, np.int64), np.asarray(actions, np.int64),
                      np.asarray(rewards, np.float64))

  def train(self):
    return {}

  def checkpoint(self):
    return tf.train.Checkpoint(history=self.history)

  def training_seconds(self):
    return {}


@gin.configurable('tpe_sampler')
def tpe_settings(constant_liar=True, n_startup_trials=10, multivariate=False):
  """The arguments of Optuna's TPESampler: its defaults, but for the constant liar that a
  batch of parallel trials needs (Optuna's advice for distributed optimisation)."""
  return dict(constant_liar=constant_liar, n_startup_trials=n_startup_trials,
              multivariate=multivariate)


def tpe_sampler(seed, settings):
  import optuna  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
    return optuna.samplers.TPESampler(seed=seed, **settings)


def propose_tpe(space, told_actions, told_rewards, pending_actions, count, seed, settings):
  """`count` configs (as actions) that Optuna's TPE asks for next, the search space as one
  categorical distribution per parameter."""
  import optuna  # pylint: disable=g-import-not-at-top
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  distributions = {k: optuna.distributions.CategoricalDistribution(v)
                   for k, v in space.choices.items()}
  study = optuna.create_study(direction='maximize', sampler=tpe_sampler(seed, settings))
  for actions, reward in zip(told_actions, told_rewards):
    study.add_trial(optuna.trial.create_trial(params=space.to_config(actions),
                                              distributions=distributions, value=reward))
  for actions in pending_actions:
    study.add_trial(optuna.trial.create_trial(params=space.to_config(actions),
                                              distributions=distributions,
                                              state=optuna.trial.TrialState.RUNNING))
  return [space.to_actions(study.ask(distributions).params) for _ in range(count)]


@gin.configurable('bayesian_oracle')
def keras_tuner_settings(num_initial_points=None, alpha=1e-4, beta=2.6):
  """The arguments of Keras Tuner's BayesianOptimizationOracle: its defaults."""
  return dict(num_initial_points=num_initial_points, alpha=alpha, beta=beta)


def bayesian_oracle(seed, hyperparameters, settings):
  import keras_tuner  # pylint: disable=g-import-not-at-top
  oracle = keras_tuner.oracles.BayesianOptimizationOracle(
      objective=keras_tuner.Objective('reward', 'max'), max_trials=None, seed=seed,
      hyperparameters=hyperparameters, **settings)
  oracle.verbose = 0
  return oracle


def propose_keras_tuner(space, told_actions, told_rewards, pending_actions, count, seed,
                        settings):
  """`count` configs (as actions) that Keras Tuner's Bayesian optimisation oracle creates
  next, the search space as one `Choice` per parameter (ordered, as Keras Tuner orders
  numbers). Keras Tuner has no call to add a finished trial, so the history goes in the way
  `Oracle.reload` puts trials read from disk: into `oracle.trials`, values recorded."""
  import keras_tuner  # pylint: disable=g-import-not-at-top
  from keras_tuner.src.engine import trial as trial_lib  # pylint: disable=g-import-not-at-top
  from sklearn import exceptions as sklearn_exceptions  # pylint: disable=g-import-not-at-top
  # Keras Tuner takes booleans as the integers 0 and 1.
  choices = {k: [int(v) if isinstance(v, bool) else v for v in values]
             for k, values in space.choices.items()}
  hyperparameters = keras_tuner.HyperParameters()
  for key, values in choices.items():
    hyperparameters.Choice(key, values)
  oracle = bayesian_oracle(seed, hyperparameters, settings)

  def add(trial_id, actions, status):
    values = hyperparameters.copy()
    values.values = {k: choices[k][a] for k, a in zip(space.keys, actions)}
    trial = trial_lib.Trial(hyperparameters=values, trial_id=trial_id, status=status)
    oracle.trials[trial_id] = trial
    oracle._record_values(trial)  # pylint: disable=protected-access
    return trial

  with tempfile.TemporaryDirectory() as project_dir, warnings.catch_warnings():
    # The Gaussian process's length-scale fits warn at their bounds on every proposal.
    warnings.simplefilter('ignore', sklearn_exceptions.ConvergenceWarning)
    oracle._set_project_dir(project_dir, 'search')  # pylint: disable=protected-access
    for k, (actions, reward) in enumerate(zip(told_actions, told_rewards)):
      trial = add(f'told_{k}', actions, trial_lib.TrialStatus.COMPLETED)
      trial.metrics.register('reward', direction='max')
      trial.metrics.update('reward', float(reward))
      oracle.score_trial(trial)
      oracle.end_order.append(trial.trial_id)
    for k, actions in enumerate(pending_actions):
      oracle.ongoing_trials[f'pending_{k}'] = add(f'pending_{k}', actions,
                                                  trial_lib.TrialStatus.RUNNING)
    proposals = []
    for k in range(count):
      trial = oracle.create_trial(f'slot_{k}')
      if trial.status != trial_lib.TrialStatus.RUNNING:
        raise errors.ControllerError(f'Keras Tuner proposes no more configs ({trial.status}): '
                                     f'it has tried every config it can find')
      proposals.append([choices[key].index(trial.hyperparameters.values[key])
                        for key in space.keys])
  return proposals


@gin.configurable('smac_optimizer')
def smac_settings(n_initial_configs=10, max_config_calls=3):
  """SMAC3's HyperparameterOptimizationFacade with its defaults but the initial design's
  size (its default scales with the trial budget, which a peer is not told; 10 as TPE's
  startup trials); `max_config_calls`: its intensifier's draws per config."""
  return dict(n_initial_configs=n_initial_configs, max_config_calls=max_config_calls)


def propose_smac(space, told_actions, told_rewards, pending_actions, count, seed, settings,
                 run_seed=0):
  """`count` configs (as actions) that SMAC3 asks for next (module doc), the search space as
  one categorical hyperparameter of choice indices per parameter; `seed` (the batch's) is
  not used: SMAC's is the run's."""
  del seed
  import ConfigSpace  # pylint: disable=g-import-not-at-top
  import smac  # pylint: disable=g-import-not-at-top
  from smac.runhistory import dataclasses as smac_trials  # pylint: disable=g-import-not-at-top
  configuration_space = ConfigSpace.ConfigurationSpace(seed=run_seed)
  for key, size in zip(space.keys, space.sizes):
    configuration_space.add(ConfigSpace.Categorical(key, list(range(size))))
  facade = smac.HyperparameterOptimizationFacade

  def configuration(actions):
    return ConfigSpace.Configuration(configuration_space, {
        k: int(a) for k, a in zip(space.keys, actions)})

  with tempfile.TemporaryDirectory() as output_dir:
    scenario = smac.Scenario(configuration_space, deterministic=False, n_trials=2 ** 31 - 1,
                             seed=run_seed, output_directory=output_dir)
    optimizer = facade(
        scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=40,
        # (its initial design once enough is told, as TPE's startup trials: the same first
        # configs in every rebuild until then, and none after)
        initial_design=facade.get_initial_design(scenario, n_configs=(
            settings['n_initial_configs'] if len(told_actions) < settings['n_initial_configs']
            else 0)),
        intensifier=facade.get_intensifier(scenario,
                                           max_config_calls=settings['max_config_calls']))
    optimizer.intensifier.__post_init__()  # what its first ask would do: draws its seeds
    seeds = [k.seed for k in optimizer.intensifier.get_instance_seed_keys_of_interest()]
    draws = {}

    def seed_of(actions):
      """The k-th draw of a config is told as SMAC's k-th seed (None past its last)."""
      key = tuple(int(a) for a in actions)
      draws[key] = draws.get(key, 0) + 1
      return seeds[draws[key] - 1] if draws[key] <= len(seeds) else None

    for actions, reward in zip(told_actions, told_rewards):
      trial_seed = seed_of(actions)
      if trial_seed is not None:
        optimizer.tell(smac_trials.TrialInfo(configuration(actions), seed=trial_seed),
                       smac_trials.TrialValue(cost=-float(reward)))
    for actions in pending_actions:
      trial_seed = seed_of(actions)
      if trial_seed is not None:
        optimizer.runhistory.add_running_trial(
            smac_trials.TrialInfo(configuration(actions), seed=trial_seed))
    return [[int(trial.config[k]) for k in space.keys]
            for trial in (optimizer.ask() for _ in range(count))]


PROPOSERS = {'tpe': propose_tpe, 'keras_tuner': propose_keras_tuner, 'smac': propose_smac}
SETTINGS = {'tpe': tpe_settings, 'keras_tuner': keras_tuner_settings, 'smac': smac_settings}
# The settings of every run whose run.json does not record them (written before 2026-12-02):
# the defaults then. Not the functions' defaults, which may change.
DEFAULTS = {'tpe': {'constant_liar': True, 'n_startup_trials': 10, 'multivariate': False},
            'keras_tuner': {'num_initial_points': None, 'alpha': 1e-4, 'beta': 2.6}}


def settings(kind):
  """The settings gin binds now for a peer of `kind` (plain data, for run.json)."""
  return SETTINGS[kind]()


def create(kind, task_names, space, seed, peer_settings):
  propose = PROPOSERS[kind]
  if kind == 'smac':
    propose = functools.partial(propose_smac, run_seed=seed)
  return _Peer(task_names, space, seed, propose, peer_settings, name=kind)
