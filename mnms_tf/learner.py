"""MNMS training: off-policy actor-critic with a replay bank, or on-policy REINFORCE.

For a sample of task t with actions a_1..a_K and reward R, the learner step minimises

  b_t         exponential moving average of task t's observed rewards (`baseline_decay`)
  A_k         (R - b_t) / b_t, the paper's normalized advantage; with advantage='critic'
              (R - V(t, a_<k)) / b_t, the critic's value of the prefix as baseline
  rho         min(pi(a | t) / mu(a | t), max_importance_weight), mu the policy that
              sampled a (its log-probability is stored in the replay bank)
  actor loss  -mean[ rho * sum_k A_k log pi(a_k | t, a_<k) ] - entropy_weight * mean[H]
  critic loss mean[ (V(t, a_<k) - R)^2 ] over samples and prefixes

and the weights that sample (mu) are a Polyak average of the actor's: avg <- tau * avg +
(1 - tau) * actor after every update. Each iteration, new samples update the baselines and
go to the replay bank; `updates_per_iteration` learner steps then train on batches drawn
from the bank across tasks. On-policy mode (the paper's comparison): sample from the
actor itself, train once on that batch only, rho = 1; same baselines.

Stated by the paper: 2-layer LSTM actor and critic, task embedding at every step, replay
bank, per-task EMA baselines, normalized advantage, Polyak averaging, cubed-accuracy
reward. Left open by our copy (numbers and details stripped) and chosen here, all gin:
Adam with learning rates 1e-3 (actor) and 3e-3 (critic), replay batch 32, 4 updates per
iteration (sampled from the bank inside the same tf.function), baseline decay 0.9 (the
first reward of a task initialises b_t), tau 0.9, truncation at 1, b_t floored at 0.01 for
the division, the advantage's baseline (b_t, as the paper writes it, by default), and an
entropy bonus of 0.05 (the paper mentions none).

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
10 was worse on synthetic rewards, so 1). On synthetic rewards shaped like real ones,
a transferred controller samples good models for a related new task about 1.7x sooner
than one from scratch; on noise-free rewards where every parameter counts the same, its
policy does not converge sooner (README, benchmarks/controller_transfer.py).
"""
import gin
import keras
import numpy as np
import tensorflow as tf

from mnms_tf import controller
from mnms_tf import errors
from mnms_tf import replay as replay_lib

OFF_POLICY, ON_POLICY = 'off_policy', 'on_policy'
LOSS_NAMES = ('actor_loss', 'critic_loss', 'entropy', 'importance_weight')


class ControllerError(errors.UserError, ValueError):
  pass


@gin.configurable(denylist=['task_names', 'sizes'])
class MNMSAgent(tf.Module):
  """Actor, Polyak-averaged sampler, critic, per-task baselines and replay bank."""

  def __init__(self, task_names, sizes, mode=OFF_POLICY, actor_learning_rate=1e-3,
               critic_learning_rate=3e-3, replay_batch_size=32, updates_per_iteration=4,
               baseline_decay=0.9, polyak_tau=0.9, max_importance_weight=1.0,
               entropy_weight=0.05, advantage='baseline', min_baseline=0.01,
               task_embedding_learning_rate_scale=1.0, keep_optimizer_state=True, seed=0):
    super().__init__(name='mnms_agent')
    # Everything but the tasks, for with_new_tasks.
    self.settings = dict(mode=mode, actor_learning_rate=actor_learning_rate,
                         critic_learning_rate=critic_learning_rate,
                         replay_batch_size=replay_batch_size,
                         updates_per_iteration=updates_per_iteration,
                         baseline_decay=baseline_decay, polyak_tau=polyak_tau,
                         max_importance_weight=max_importance_weight,
                         entropy_weight=entropy_weight, advantage=advantage,
                         min_baseline=min_baseline,
                         task_embedding_learning_rate_scale=task_embedding_learning_rate_scale,
                         keep_optimizer_state=keep_optimizer_state,
                         seed=seed)
    if mode not in (OFF_POLICY, ON_POLICY):
      raise ControllerError(f'mode must be {OFF_POLICY!r} or {ON_POLICY!r}, got {mode!r}')
    if advantage not in ('baseline', 'critic'):
      raise ControllerError(f"advantage must be 'baseline' or 'critic', got {advantage!r}")
    self.task_names = list(task_names)
    self.sizes = tuple(sizes)
    self.mode, self.advantage = mode, advantage
    self.replay_batch_size = replay_batch_size
    self.updates_per_iteration = updates_per_iteration if mode == OFF_POLICY else 1
    self.baseline_decay, self.polyak_tau = baseline_decay, polyak_tau
    self.max_importance_weight, self.entropy_weight = max_importance_weight, entropy_weight
    self.min_baseline = min_baseline
    self.keep_optimizer_state = keep_optimizer_state
    num_tasks = len(self.task_names)
    self.actor = controller.ControllerNetwork(self.sizes, num_tasks, 'policy', seed=2 * seed)
    self.sampler = controller.ControllerNetwork(self.sizes, num_tasks, 'policy', seed=2 * seed)
    self.critic = controller.ControllerNetwork(self.sizes, num_tasks, 'value', seed=2 * seed + 1)
    # Per network, one Adam for the task-embedding table and one for the rest, so that the
    # table can learn faster (Adam is per coordinate: with scale 1 this is one Adam).
    self.optimizers = {}
    for name, network, rate in (('actor', self.actor, actor_learning_rate),
                                ('critic', self.critic, critic_learning_rate)):
      parts = _split_variables(network)
      for part, scale in (('shared', 1.0), ('task_embeddings', task_embedding_learning_rate_scale)):
        self.optimizers[f'{name}_{part}'] = keras.optimizers.Adam(rate * scale)
        self.optimizers[f'{name}_{part}'].build(parts[part])
    self.baselines = tf.Variable(tf.zeros([num_tasks]))
    self.baseline_counts = tf.Variable(tf.zeros([num_tasks], tf.int64))
    self.replay = replay_lib.ReplayBank(num_tasks, len(self.sizes), seed=seed)
    self.generator = tf.random.Generator.from_seed(seed + 1)
    self._last_batch = None
    num_steps = len(self.sizes)
    self._sample = tf.function(self.behaviour.decode, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([num_steps, 2], tf.int64)])
    self._learn_from_replay = tf.function(self._replay_steps)
    self._learn = tf.function(self._learner_step, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, num_steps], tf.int32),
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32)])

  def task_index(self, name):
    if name not in self.task_names:
      raise ControllerError(f'Task {name!r} is not one of the controller\'s tasks {self.task_names}')
    return self.task_names.index(name)

  @property
  def behaviour(self):
    return self.sampler if self.mode == OFF_POLICY else self.actor

  def sample(self, tasks):
    """(actions [B, K], behaviour log-probabilities [B]) for task indices `tasks`."""
    seeds = tf.transpose(self.generator.make_seeds(len(self.sizes)))
    actions, log_probabilities = self._sample(tf.constant(tasks, tf.int32), seeds)
    return actions.numpy(), log_probabilities.numpy()

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
    baselines, counts = self.baselines.numpy(), self.baseline_counts.numpy()
    for task, reward in zip(tasks, rewards):
      baselines[task] = reward if counts[task] == 0 else (
          self.baseline_decay * baselines[task] + (1 - self.baseline_decay) * reward)
      counts[task] += 1
    self.baselines.assign(baselines)
    self.baseline_counts.assign(counts)
    if self.mode == OFF_POLICY:
      self.replay.add(tasks, actions, rewards, log_probabilities, iteration)
    else:
      self._last_batch = (tf.constant(tasks, tf.int32), tf.constant(actions, tf.int32),
                          tf.constant(rewards, tf.float32),
                          tf.constant(log_probabilities, tf.float32))

  def train(self):
    """Runs this iteration's learner steps (one tf.function call); returns the last losses."""
    if self.mode == OFF_POLICY:
      if not self.replay.sizes().any():
        raise ControllerError('Nothing to train on: observe() samples before train()')
      losses = self._learn_from_replay()
    else:
      if self._last_batch is None:
        raise ControllerError('Nothing to train on: observe() samples before train()')
      losses = self._learn(*self._last_batch)
    return {k: float(v) for k, v in losses.items()}

  def _replay_steps(self):
    losses = {name: tf.constant(0.0) for name in LOSS_NAMES}
    for _ in tf.range(self.updates_per_iteration):  # a tf.while_loop: traced once, not 4 times
      losses = self._learner_step(*self.replay.sample(self.replay_batch_size))
    return losses

  def _learner_step(self, tasks, actions, rewards, behaviour_log_probabilities):
    num_steps = len(self.sizes)
    with tf.GradientTape() as critic_tape:
      values = self.critic.unroll(tasks, actions)
      critic_loss = tf.reduce_mean(tf.square(values - rewards[:, None]))
    with tf.GradientTape() as actor_tape:
      logits = self.actor.unroll(tasks, actions)
      step_log_probabilities = tf.stack(
          [tf.gather(tf.nn.log_softmax(logits[k]), actions[:, k], batch_dims=1)
           for k in range(num_steps)], axis=1)
      entropy = tf.add_n([-tf.reduce_sum(tf.nn.softmax(l) * tf.nn.log_softmax(l), axis=-1)
                          for l in logits])
      if self.mode == OFF_POLICY:
        ratio = tf.exp(tf.reduce_sum(step_log_probabilities, axis=1) - behaviour_log_probabilities)
        importance = tf.stop_gradient(tf.minimum(ratio, self.max_importance_weight))
      else:
        importance = tf.ones_like(rewards)
      task_baselines = tf.gather(self.baselines, tasks)
      scale = tf.maximum(task_baselines, self.min_baseline)[:, None]
      baseline = values if self.advantage == 'critic' else task_baselines[:, None]
      advantage = tf.stop_gradient((rewards[:, None] - baseline) / scale)
      actor_loss = -tf.reduce_mean(
          importance * tf.reduce_sum(advantage * step_log_probabilities, axis=1))
      actor_loss -= self.entropy_weight * tf.reduce_mean(entropy)
    self._apply('critic', critic_tape, critic_loss)
    self._apply('actor', actor_tape, actor_loss)
    for average, weight in zip(self.sampler.weights, self.actor.weights):
      average.assign(self.polyak_tau * average + (1 - self.polyak_tau) * weight)
    return {'actor_loss': actor_loss, 'critic_loss': critic_loss,
            'entropy': tf.reduce_mean(entropy), 'importance_weight': tf.reduce_mean(importance)}

  def _apply(self, name, tape, loss):
    network = getattr(self, name)
    parts = _split_variables(network)
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
        actor=self.actor.weights, sampler=self.sampler.weights, critic=self.critic.weights,
        **self.optimizers,
        baselines=self.baselines, baseline_counts=self.baseline_counts, replay=self.replay,
        generator=self.generator)

  def with_new_tasks(self, new_task_names, seed=0, **overrides):
    """Transfer: a new agent over old + new tasks with every weight kept but the new tasks'
    embeddings (fresh, random), fresh baselines, an empty replay bank, and the shared
    weights' Adam state kept (fresh too with `keep_optimizer_state=False`)."""
    duplicates = sorted(set(new_task_names) & set(self.task_names))
    if duplicates:
      raise ControllerError(f'Tasks {duplicates} are already known to the controller')
    settings = dict(self.settings, seed=seed, **overrides)
    agent = MNMSAgent(self.task_names + list(new_task_names), self.sizes, **settings)
    old = len(self.task_names)
    for source, target in ((self.actor, agent.actor), (self.sampler, agent.sampler),
                           (self.critic, agent.critic)):
      controller.copy_weights(source, target, skip_task_embeddings=True)
      target.task_embeddings[:old].assign(source.task_embeddings)
    if agent.keep_optimizer_state:
      for name in ('actor_shared', 'critic_shared'):
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
