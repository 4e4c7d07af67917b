"""Objectives as pure functions of tensors (no variables, no state): the MNMS actor-critic
and, at the end, the value network's (mnms_tf/transfer/value_network.py).

For a replayed sample of task t with actions a_1..a_K and reward R:

  rho    min(pi(a | t) / mu(a | t), max_weight): the truncated importance weight of the
         actor pi against the policy mu that sampled a
  A_k    (R - b_t) / max(b_t, min_baseline): the paper's normalized advantage, b_t the
         task's EMA baseline; with a critic, (R - V(t, a_<k)) / max(b_t, min_baseline)
  H      sum over steps of the entropy of the actor's choice distribution
  actor  -mean[ rho * sum_k A_k log pi(a_k | t, a_<k) ] - entropy_weight * mean[H]
  critic mean[ (V(t, a_<k) - R)^2 ] over samples and prefixes

The weights rho and the advantages are constants of the actor's gradient
(tf.stop_gradient), as in the usual off-policy actor-critic derivation.
"""
import tensorflow as tf


def truncated_importance_weights(target_log_probabilities, behaviour_log_probabilities,
                                 max_weight):
  """rho [B] from the actor's [B] and the sampler's [B] log-probabilities of whole samples."""
  ratio = tf.exp(target_log_probabilities - behaviour_log_probabilities)
  return tf.stop_gradient(tf.minimum(ratio, max_weight))


def normalized_advantages(rewards, baselines, min_baseline, values=None):
  """A [B, K]: (R - b) / max(b, min_baseline), or (R - V) / max(b, min_baseline) given the
  critic's prefix values V [B, K]. `rewards` and `baselines` are [B]."""
  scale = tf.maximum(baselines, min_baseline)[:, None]
  reference = baselines[:, None] if values is None else values
  return tf.stop_gradient((rewards[:, None] - reference) / scale)


def policy_entropy(step_logits):
  """H [B]: the entropies of K steps' choice distributions (K logits [B, size_k]), summed."""
  return tf.add_n([-tf.reduce_sum(tf.nn.softmax(l) * tf.nn.log_softmax(l), axis=-1)
                   for l in step_logits])


def actor_loss(step_log_probabilities, advantages, importance_weights, entropy,
               entropy_weight):
  """The scalar actor loss from log pi(a_k | t, a_<k) [B, K], A [B, K], rho [B], H [B]."""
  loss = -tf.reduce_mean(
      importance_weights * tf.reduce_sum(advantages * step_log_probabilities, axis=1))
  return loss - entropy_weight * tf.reduce_mean(entropy)


def critic_loss(values, rewards):
  """Squared error of every prefix's value V [B, K] against the sample's reward R [B]."""
  return tf.reduce_mean(tf.square(values - rewards[:, None]))


# The value network's objectives (value_network.py): predicted scores s [N] of trials with
# validation accuracies y [N].


def squared_error(scores, targets):
  """mean (s - y)^2."""
  return tf.reduce_mean(tf.square(scores - targets))


def pairwise_ranking_loss(scores, targets, groups):
  """The pairwise logistic ranking loss (arXiv 1911.11481, RankNet's): over the ordered
  pairs (i, j) of one group (task) with y_i > y_j, mean log(1 + exp(-(s_i - s_j))); 0
  without such a pair. Only orders within a task count, so scores are not accuracies."""
  better = ((targets[:, None] > targets[None, :]) &
            tf.equal(groups[:, None], groups[None, :]))
  margins = tf.boolean_mask(scores[:, None] - scores[None, :], better)
  return tf.math.divide_no_nan(tf.reduce_sum(tf.math.softplus(-margins)),
                               tf.cast(tf.size(margins), scores.dtype))
