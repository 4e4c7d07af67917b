"""Model-assisted sampling: a value network, corrected by the new task's own children, picks
which of the controller's candidates are trained.

The MNMS controller becomes the proposal distribution of a meta-learned model-based
search: it samples `candidates_per_slot` configs per slot (search/proposals.py), and the
value network fitted on past searches (transfer/value_network.py) ranks them. What the past
says of a new task is a prior: its error on the task's children so far (residual r = y -
prior mean) is learned online by Bayesian linear regression on the configs' one-hot
choices (weights ~ N(0, residual_std^2), draws with noise noise_std), so that after a few
iterations the task's own evidence overrules the prior where they disagree. The
acquisition is the upper confidence bound
    prior mean + residual mean + exploration * sqrt(ensemble variance + residual variance);
the controller's reward and replay stay the paper's (it learns from every trained draw
with the log-probability it sampled it with).

Cost: one value-network prediction of the candidates and a solve of a [choices x choices]
system per iteration (milliseconds; docs/transfer.md).
"""
import dataclasses

import gin
import numpy as np

from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.transfer import value_network as value_network_lib


@gin.configurable
@dataclasses.dataclass(frozen=True)
class AcquisitionSettings:
  """exploration: the UCB's multiple of the predictive standard deviation.
  residual_std: the prior spread of each choice's correction to the value network.
  noise_std: one draw's spread around its config's accuracy."""
  exploration: float = 1.0
  residual_std: float = 0.05
  noise_std: float = 0.03


def residual_posterior(features, residuals, residual_std, noise_std):
  """(mean [D], covariance [D, D]) of Bayesian linear regression weights, prior
  N(0, residual_std^2 I), for rows `features` [N, D] with targets `residuals` [N]."""
  features = np.asarray(features, np.float64).reshape(-1, np.shape(features)[-1])
  precision = (features.T @ features / noise_std ** 2 +
               np.eye(features.shape[1]) / residual_std ** 2)
  covariance = np.linalg.inv(precision)
  mean = covariance @ features.T @ np.asarray(residuals, np.float64) / noise_std ** 2
  return mean, covariance


def upper_confidence_bound(prior_mean, prior_std, features, posterior, exploration):
  """The acquisition of the module doc for candidates with one-hot `features` [N, D]."""
  mean, covariance = posterior
  features = np.asarray(features, np.float64)
  variance = prior_std ** 2 + np.einsum('nd,de,ne->n', features, covariance, features)
  return prior_mean + features @ mean + exploration * np.sqrt(variance)


class Acquisition:
  """Scores candidates for the tasks of one search (its value network, loaded once)."""

  def __init__(self, model_dir, representations, space, settings=None):
    self.network = value_network_lib.load(model_dir)
    if self.network.space.describe() != space.describe():
      raise run_dir_lib.RunDirError(f'The value network in {model_dir} was fitted on another '
                                    f'search space')
    if self.network.settings.loss != 'mse':
      raise run_dir_lib.RunDirError(
          f'The value network in {model_dir} ranks configs ({self.network.settings.loss} '
          f'loss) but does not predict accuracies: model-assisted sampling corrects its '
          f'predictions, so it needs one fitted with the mse loss')
    self.representations, self.space = representations, space
    self.settings = settings or AcquisitionSettings()

  def _prior(self, task, actions):
    distributions = value_network_lib.one_hot(actions, self.space.sizes)
    members = self.network.member_scores(self.representations[task], distributions).numpy()
    return distributions, members.mean(axis=0), members.std(axis=0)

  def scores(self, task, candidates, history_actions, history_accuracies):
    """[N] acquisition values of `candidates` [N, K] actions, given the task's trained
    children so far (`history_actions` [M, K], their validation accuracies [M])."""
    s = self.settings
    features, mean, std = self._prior(task, candidates)
    if len(history_actions):
      seen, seen_mean, _ = self._prior(task, np.asarray(history_actions))
      posterior = residual_posterior(seen, np.asarray(history_accuracies) - seen_mean,
                                     s.residual_std, s.noise_std)
    else:
      posterior = residual_posterior(np.zeros([0, features.shape[1]]), np.zeros([0]),
                                     s.residual_std, s.noise_std)
    return upper_confidence_bound(mean, std, features, posterior, s.exploration)
