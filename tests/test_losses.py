"""The actor-critic objective (mnms_tf/controllers/losses.py) on small cases computed by hand."""
import numpy as np
import pytest
import tensorflow as tf

from mnms_tf.controllers import losses


def test_importance_weights_are_truncated_ratios_of_whole_samples():
  # pi/mu = e^0 = 1, e^-1 = 0.368, e^1 = 2.718 (truncated to 1.5).
  weights = losses.truncated_importance_weights(
      tf.constant([-2.0, -3.0, -1.0]), tf.constant([-2.0, -2.0, -2.0]), 1.5)
  np.testing.assert_allclose(weights.numpy(), [1.0, np.exp(-1.0), 1.5], rtol=1e-6)


def test_normalized_advantage_divides_by_the_floored_baseline():
  rewards, baselines = tf.constant([0.6, 0.2, 0.5]), tf.constant([0.4, 0.4, 0.0])
  advantages = losses.normalized_advantages(rewards, baselines, min_baseline=0.01).numpy()
  # (0.6 - 0.4) / 0.4 = 0.5; (0.2 - 0.4) / 0.4 = -0.5; (0.5 - 0) / 0.01 = 50.
  np.testing.assert_allclose(advantages, [[0.5], [-0.5], [50.0]], rtol=1e-5)


def test_critic_advantage_uses_each_prefix_value():
  values = tf.constant([[0.5, 0.7], [0.1, 0.2]])
  advantages = losses.normalized_advantages(tf.constant([0.6, 0.2]), tf.constant([0.4, 0.5]),
                                            0.01, values).numpy()
  # Row 1: (0.6 - 0.5) / 0.4 = 0.25, (0.6 - 0.7) / 0.4 = -0.25; row 2: 0.2, 0.0.
  np.testing.assert_allclose(advantages, [[0.25, -0.25], [0.2, 0.0]], atol=1e-6)


def test_entropy_sums_the_steps():
  uniform_of_two = tf.constant([[0.0, 0.0]])
  certain_of_three = tf.constant([[100.0, 0.0, 0.0]])
  entropy = losses.policy_entropy([uniform_of_two, certain_of_three]).numpy()
  np.testing.assert_allclose(entropy, [np.log(2.0)], rtol=1e-5)


def test_actor_loss_weights_log_probabilities_and_subtracts_the_entropy_bonus():
  log_probabilities = tf.constant([[-1.0, -2.0], [-0.5, -0.5]])
  advantages = tf.constant([[1.0, 1.0], [-2.0, -2.0]])
  weights, entropy = tf.constant([0.5, 1.0]), tf.constant([2.0, 4.0])
  loss = losses.actor_loss(log_probabilities, advantages, weights, entropy, 0.1)
  # -mean[0.5 * (-1 - 2), 1.0 * (1 + 1)] - 0.1 * mean[2, 4] = -mean[-1.5, 2] - 0.3 = -0.55
  assert float(loss) == pytest.approx(-0.55)


def test_actor_gradient_treats_weights_and_advantages_as_constants():
  logits = tf.Variable([[0.0, 0.0]])
  with tf.GradientTape() as tape:
    log_probability = tf.nn.log_softmax(logits)[:, :1]  # log pi(a=0) = log 0.5
    weights = losses.truncated_importance_weights(log_probability[:, 0], tf.constant([0.0]), 1.0)
    advantages = losses.normalized_advantages(tf.constant([1.0]), tf.constant([0.5]), 0.01)
    loss = losses.actor_loss(log_probability, advantages, weights, tf.constant([0.0]), 0.0)
  # loss = -rho * A * log pi(0), rho = 0.5, A = 1: d/dlogits = -0.5 * (onehot(0) - pi).
  np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), [[-0.25, 0.25]], rtol=1e-6)


def test_critic_loss_is_the_mean_squared_error_over_prefixes():
  loss = losses.critic_loss(tf.constant([[0.5, 1.0], [0.0, 0.0]]), tf.constant([1.0, 0.5]))
  # ((0.5)^2 + 0 + 0.5^2 + 0.5^2) / 4 = 0.1875
  assert float(loss) == pytest.approx(0.1875)
