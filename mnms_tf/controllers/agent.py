"""The MNMS agent: actor, Polyak-averaged sampler, critic, baselines and replay bank.

Off-policy actor-critic with a replay bank, or on-policy REINFORCE.

The learner step minimises the objective of `mnms_tf/controllers/losses.py` (b_t:
exponential moving average of task t's rewards, `baseline_decay`; mu's log-probability of
each sample is stored in the replay bank), and the weights that sample (mu) are a Polyak
average of the actor's: avg <- tau * avg + (1 - tau) * actor after every update. Each
iteration, new samples update the baselines and go to the replay bank;
`updates_per_iteration` learner steps then train on batches drawn from the bank across
tasks. On-policy mode (the paper's comparison): sample from the actor itself, train once on
that batch only, rho = 1; same baselines.

Stated by the paper: 2-layer LSTM actor and critic, task embedding at every step, replay
bank, per-task EMA baselines, normalized advantage, Polyak averaging, cubed-accuracy
reward. Left open by our copy (numbers and details stripped) and chosen here, all gin:
Adam with learning rates 1e-3 (actor) and 3e-3 (critic), replay batch 32, 4 updates per
iteration (sampled from the bank inside the same tf.function), baseline decay 0.9 (the
first reward of a task initialises b_t), tau 0.9, truncation at 1, b_t floored at 0.01 for
the division, the advantage's baseline (b_t, as the paper writes it, by default), and an
entropy bonus of 0.05 (the paper mentions none). All settings are one frozen dataclass,
`AgentSettings` (gin), stored in run.json so that a run restores without gin.

The critic is built, trained and checkpointed only with advantage='critic'. With the
paper's normalized advantage (R - b_t) / b_t, the default, nothing reads its values: it
would cost half of every learner step and a third of every checkpoint for no effect on
the search.

Why the entropy bonus: without it the controller ends near-deterministic (p ~ 0.999 per
choice), and a transferred controller hardly ever samples the choices where a new task
differs from the old ones; on synthetic rewards it then sometimes did not solve the new
task at all within 3,200 samples. With 0.05 it keeps exploring and transfer always solved
it. The price: about 2-3x more samples to converge from scratch, and converged policies
oscillate now and then (once the advantages vanish, Adam rescales the entropy gradient to
full-size steps).

Transfer (`with_new_tasks`): every weight is kept, the new tasks get fresh random
embeddings (the paper), baselines and the replay bank start empty (the paper restarts
the bank), and, our choice, the Adam state of the shared weights is kept
(`keep_optimizer_state`): a fresh Adam turns the first, tiny gradients of an already
trained network into full-size steps that shake it. Each network has one Adam for its
task-embedding table and one for the rest, so that this state can be kept while the
table grows, and so that the table may learn faster (`task_embedding_learning_rate_scale`;
10 was worse on synthetic rewards, so 1). On synthetic rewards shaped like real ones, a
transferred controller samples good models for a related new task in about 0.6-0.7 of the
samples a search from scratch needs; on noise-free rewards where every parameter counts the
same, its policy does not converge sooner (docs/controller.md,
benchmarks/controller_transfer.py).
"""
import dataclasses

import gin
import keras
import numpy as np
import tensorflow as tf

from mnms_tf.controllers import losses
from mnms_tf.controllers import networks
from mnms_tf.controllers import replay as replay_lib
from mnms_tf import errors

OFF_POLICY, ON_POLICY = 'off_policy', 'on_policy'
ControllerError = errors.ControllerError


@gin.configurable
@dataclasses.dataclass(frozen=True)
class AgentSettings:
  """Everything that defines how an MNMS agent learns (its tasks and seed aside)."""
  mode: str = OFF_POLICY
  actor_learning_rate: float = 1e-3
  critic_learning_rate: float = 3e-3
  replay_batch_size: int = 32
  updates_per_iteration: int = 4
  replay_capacity: int = 2000  # per task
  baseline_decay: float = 0.9
  polyak_tau: float = 0.9
  max_importance_weight: float = 1.0
  entropy_weight: float = 0.05
  advantage: str = 'baseline'  # or 'critic'
  min_baseline: float = 0.01
  task_embedding_learning_rate_scale: float = 1.0
  keep_optimizer_state: bool = True
  network: networks.NetworkSettings = dataclasses.field(
      default_factory=networks.NetworkSettings)

  def __post_init__(self):
    if self.mode not in (OFF_POLICY, ON_POLICY):
      raise ControllerError(f'mode must be {OFF_POLICY!r} or {ON_POLICY!r}, got {self.mode!r}')
    if self.advantage not in ('baseline', 'critic'):
      raise ControllerError(f"advantage must be 'baseline' or 'critic', got {self.advantage!r}")

  @classmethod
  def from_dict(cls, settings):
    """The inverse of dataclasses.asdict, with every field explicit (gin cannot override)."""
    return cls(**dict(settings, network=networks.NetworkSettings(**settings['network'])))


class MNMSAgent(tf.Module):
  """Actor, Polyak-averaged sampler, critic (advantage='critic'), baselines and replay bank."""

  def __init__(self, task_names, sizes, settings=None, seed=0):
    super().__init__(name='mnms_agent')
    self.settings = settings = settings or AgentSettings()
    self.seed = seed
    self.task_names = list(task_names)
    self.sizes = tuple(sizes)
    self.updates_per_iteration = settings.updates_per_iteration if self.off_policy else 1
    num_tasks = len(self.task_names)
    self.networks = {'actor': networks.ControllerNetwork(self.sizes, num_tasks, 'policy',
                                                         2 * seed, settings.network)}
    self.sampler = networks.ControllerNetwork(self.sizes, num_tasks, 'policy', 2 * seed,
                                              settings.network)
    if settings.advantage == 'critic':
      self.networks['critic'] = networks.ControllerNetwork(self.sizes, num_tasks, 'value',
                                                           2 * seed + 1, settings.network)
    # Per network, one Adam for the task-embedding table and one for the rest, so that the
    # table can learn faster (Adam is per coordinate: with scale 1 this is one Adam).
    self.optimizers = {}
    for name, network in self.networks.items():
      rate = settings.actor_learning_rate if name == 'actor' else settings.critic_learning_rate
      parts = _split_variables(network)
      for part, scale in (('shared', 1.0),
                          ('task_embeddings', settings.task_embedding_learning_rate_scale)):
        self.optimizers[f'{name}_{part}'] = keras.optimizers.Adam(rate * scale)
        self.optimizers[f'{name}_{part}'].build(parts[part])
    self.baselines = tf.Variable(tf.zeros([num_tasks]))
    self.baseline_counts = tf.Variable(tf.zeros([num_tasks], tf.int64))
    self.replay = replay_lib.ReplayBank(num_tasks, len(self.sizes), settings.replay_capacity,
                                        seed=seed)
    self.generator = tf.random.Generator.from_seed(seed + 1)
    self._last_batch = None
    num_steps = len(self.sizes)
    self._sample = tf.function(self.behaviour.decode, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([num_steps, 2], tf.int64)])
    self._log_probabilities = tf.function(self._behaviour_log_probabilities, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, num_steps], tf.int32)])
    self._learn_from_replay = tf.function(self._replay_steps)
    self._learn = tf.function(self._learner_step, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, num_steps], tf.int32),
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32)])

  @property
  def actor(self):
    return self.networks['actor']

  @property
  def critic(self):
    return self.networks.get('critic')

  @property
  def off_policy(self):
    return self.settings.mode == OFF_POLICY

  @property
  def behaviour(self):
    return self.sampler if self.off_policy else self.actor

  def task_index(self, name):
    if name not in self.task_names:
      raise ControllerError(f'Task {name!r} is not one of the controller\'s tasks '
                            f'{self.task_names}')
    return self.task_names.index(name)

  def sample(self, tasks):
    """(actions [B, K], behaviour log-probabilities [B]) for task indices `tasks`."""
    seeds = tf.transpose(self.generator.make_seeds(len(self.sizes)))
    actions, log_probabilities = self._sample(tf.constant(tasks, tf.int32), seeds)
    return actions.numpy(), log_probabilities.numpy()

  def log_probabilities(self, tasks, actions):
    """Behaviour log-probabilities [B] of given configs (e.g. ones evaluated first), as
    `sample` returns them for its own draws."""
    return self._log_probabilities(tf.constant(tasks, tf.int32),
                                   tf.constant(actions, tf.int32)).numpy()

  def _behaviour_log_probabilities(self, tasks, actions):
    logits = self.behaviour.unroll(tasks, actions)
    return tf.reduce_sum(tf.stack(
        [tf.gather(tf.nn.log_softmax(logits[k]), actions[:, k], batch_dims=1)
         for k in range(len(self.sizes))], axis=1), axis=1)

  def greedy(self, task):
    """The controller's current best guess for a task: argmax at every step."""
    actions, _ = self.behaviour.decode(tf.constant([self.task_index(task)], tf.int32))
    return actions.numpy()[0].tolist()

  def step_probabilities(self, task, actions):
    """Per-parameter choice probabilities of `task` along the `actions` prefix."""
    probabilities = self.behaviour.step_probabilities(
        tf.constant([self.task_index(task)], tf.int32), tf.constant([actions], tf.int32))
    return [p.numpy()[0] for p in probabilities]

  def observe(self, tasks, actions, rewards, log_probabilities, iteration):
    """Records new samples: updates the tasks' EMA baselines, stores them for training."""
    if not np.all(np.isfinite(rewards)):
      raise ControllerError(f'Rewards must be finite (a failed child scores 0), got {rewards}')
    decay = self.settings.baseline_decay
    baselines, counts = self.baselines.numpy(), self.baseline_counts.numpy()
    for task, reward in zip(tasks, rewards):
      baselines[task] = reward if counts[task] == 0 else (
          decay * baselines[task] + (1 - decay) * reward)
      counts[task] += 1
    self.baselines.assign(baselines)
    self.baseline_counts.assign(counts)
    if self.off_policy:
      self.replay.add(tasks, actions, rewards, log_probabilities, iteration)
    else:
      self._last_batch = (tf.constant(tasks, tf.int32), tf.constant(actions, tf.int32),
                          tf.constant(rewards, tf.float32),
                          tf.constant(log_probabilities, tf.float32))

  def train(self):
    """Runs this iteration's learner steps (one tf.function call); returns scalars to log:
    the last step's losses and every task's baseline."""
    if self.off_policy:
      if not self.replay.sizes().any():
        raise ControllerError('Nothing to train on: observe() samples before train()')
      scalars = self._learn_from_replay()
    else:
      if self._last_batch is None:
        raise ControllerError('Nothing to train on: observe() samples before train()')
      scalars = self._learn(*self._last_batch)
    scalars = {k: float(v) for k, v in scalars.items()}
    for task, baseline in zip(self.task_names, self.baselines.numpy()):
      scalars[f'baseline/{task}'] = float(baseline)
    return scalars

  def _loss_names(self):
    return ('actor_loss', 'entropy', 'importance_weight') + ('critic_loss',) * bool(self.critic)

  def _replay_steps(self):
    scalars = {name: tf.constant(0.0) for name in self._loss_names()}
    for _ in tf.range(self.updates_per_iteration):  # a tf.while_loop: traced once, not 4 times
      scalars = self._learner_step(*self.replay.sample(self.settings.replay_batch_size))
    return scalars

  def _learner_step(self, tasks, actions, rewards, behaviour_log_probabilities):
    settings = self.settings
    scalars = {}
    values = None
    if self.critic:
      with tf.GradientTape() as critic_tape:
        values = self.critic.unroll(tasks, actions)
        scalars['critic_loss'] = losses.critic_loss(values, rewards)
    with tf.GradientTape() as actor_tape:
      logits = self.actor.unroll(tasks, actions)
      step_log_probabilities = tf.stack(
          [tf.gather(tf.nn.log_softmax(logits[k]), actions[:, k], batch_dims=1)
           for k in range(len(self.sizes))], axis=1)
      entropy = losses.policy_entropy(logits)
      if self.off_policy:
        importance = losses.truncated_importance_weights(
            tf.reduce_sum(step_log_probabilities, axis=1), behaviour_log_probabilities,
            settings.max_importance_weight)
      else:
        importance = tf.ones_like(rewards)
      advantages = losses.normalized_advantages(rewards, tf.gather(self.baselines, tasks),
                                                settings.min_baseline, values)
      scalars['actor_loss'] = losses.actor_loss(step_log_probabilities, advantages, importance,
                                                entropy, settings.entropy_weight)
    if self.critic:
      self._apply('critic', critic_tape, scalars['critic_loss'])
    self._apply('actor', actor_tape, scalars['actor_loss'])
    for average, weight in zip(self.sampler.weights, self.actor.weights):
      average.assign(settings.polyak_tau * average + (1 - settings.polyak_tau) * weight)
    scalars.update(entropy=tf.reduce_mean(entropy), importance_weight=tf.reduce_mean(importance))
    return scalars

  def _apply(self, name, tape, loss):
    parts = _split_variables(self.networks[name])
    gradients = tape.gradient(loss, parts)
    for part, variables in parts.items():
      if any(g is not None for g in gradients[part]):  # none for the ablated task embedding
        self.optimizers[f'{name}_{part}'].apply(gradients[part], variables)

  def checkpoint(self):
    """Everything needed to resume: networks, optimizers, baselines, replay and RNG.

    The networks go in as lists of weights: Keras 3 hides variables held in Python lists
    (the LSTM cells, heads, action embeddings) from tf.train.Checkpoint's object graph.
    """
    return tf.train.Checkpoint(
        sampler=self.sampler.weights, **{n: net.weights for n, net in self.networks.items()},
        **self.optimizers,
        baselines=self.baselines, baseline_counts=self.baseline_counts, replay=self.replay,
        generator=self.generator)

  def training_seconds(self):
    return {}

  def with_new_tasks(self, new_task_names, seed=0, settings=None, embedding_weights=None):
    """Transfer: a new agent over old + new tasks with every weight kept but the new tasks'
    embeddings, fresh baselines, an empty replay bank, and the shared weights' Adam state
    kept (fresh too with `keep_optimizer_state=False`). `settings` (default: this agent's)
    may change how it learns, not the networks' shape. A new task's embedding is random
    (the paper), or with `embedding_weights` ([new tasks, old tasks], rows summing to 1)
    that mix of the old tasks' learned embeddings (a warm start)."""
    duplicates = sorted(set(new_task_names) & set(self.task_names))
    if duplicates:
      raise ControllerError(f'Tasks {duplicates} are already known to the controller')
    settings = settings or self.settings
    if settings.network != self.settings.network:
      raise ControllerError(f'A transferred controller keeps its networks: {self.settings.network}'
                            f', not {settings.network}')
    agent = MNMSAgent(self.task_names + list(new_task_names), self.sizes, settings, seed)
    old = len(self.task_names)
    pairs = [(self.sampler, agent.sampler)] + [
        (network, agent.networks[name]) for name, network in self.networks.items()
        if name in agent.networks]
    for source, target in pairs:
      networks.copy_weights(source, target, skip_task_embeddings=True)
      target.task_embeddings[:old].assign(source.task_embeddings)
      if embedding_weights is not None:
        target.task_embeddings[old:].assign(
            np.asarray(embedding_weights, np.float32) @ source.task_embeddings.numpy())
    if settings.keep_optimizer_state:
      for name in (f'{n}_shared' for n in agent.networks if n in self.networks):
        for source, target in zip(self.optimizers[name].variables,
                                  agent.optimizers[name].variables, strict=True):
          if not source.path.endswith('learning_rate'):  # the new agent's rate stands
            target.assign(source)
    return agent


def _split_variables(network):
  return {'shared': [v for v in network.trainable_variables if v is not network.task_embeddings],
          'task_embeddings': [network.task_embeddings]}


def probability_table(agent, task, num_samples=2000):
  """Marginal frequency of every choice of every parameter in `num_samples` samples."""
  actions, _ = agent.sample([agent.task_index(task)] * num_samples)
  return [np.bincount(actions[:, k], minlength=size) / num_samples
          for k, size in enumerate(agent.sizes)]
