"""How the benchmark judges a search: the true accuracy of the model it would deploy.

Pure functions over arrays, so each is tested on hand-computed numbers. A search is a
sequence of children (config hash, validation draw, child-seconds); after n of them it
deploys one config (by its rule: search/incumbent.py); the config's quality is its ground
truth μ (experiments/ground_truth.py), and the search's normalized regret at n is
(μ* - μ(deployed_n)) / (μ* - μ_med): 0 is the best config known, 1 a median random one.
Methods are compared per (task, seed) pair: average ranks, win rates with a paired
bootstrap interval, and means with a bootstrap interval over the pairs.
"""
import numpy as np
from scipy import stats

def normalized_regret(mu, mu_star, mu_median):
  """(μ* - μ) / (μ* - μ_med), elementwise; μ* = μ_med (a task where every config scores
  alike) gives 0."""
  mu = np.asarray(mu, np.float64)
  spread = mu_star - mu_median
  return np.zeros_like(mu) if spread <= 0 else (mu_star - mu) / spread


def at_children(curve, checkpoints):
  """A per-child curve read after each of `checkpoints` children (the last value for a
  checkpoint past its end)."""
  curve = np.asarray(curve, np.float64)
  return np.array([curve[min(n, len(curve)) - 1] for n in checkpoints])


def at_seconds(curve, child_seconds, grid, before_first=1.0):
  """A per-child curve read at each time of `grid` (cumulative child-seconds): the value
  after the last child finished by then, `before_first` before any."""
  finished = np.cumsum(np.asarray(child_seconds, np.float64))
  done = np.searchsorted(finished, np.asarray(grid, np.float64), side='right')
  curve = np.asarray(curve, np.float64)
  return np.where(done > 0, curve[np.maximum(done - 1, 0)], before_first)


def area(curve):
  """The regret curve's mean over children 1..N: its normalized area."""
  return float(np.mean(curve))


def children_to_within(mu_curve, mu_star, tolerances):
  """(children until the deployed μ is within its tolerance of μ*, whether it ever is):
  the curve's length if never (censored). `tolerances`: per child, that of the config
  deployed then."""
  close = np.nonzero(np.asarray(mu_curve) >= mu_star - np.asarray(tolerances))[0]
  return (int(close[0]) + 1, True) if len(close) else (len(mu_curve), False)


def average_ranks(values):
  """[methods] mean rank over pairs of `values` [methods, pairs] (1 = lowest regret; ties
  share their mean rank)."""
  values = np.asarray(values, np.float64)
  return stats.rankdata(values, axis=0).mean(axis=1)


def bootstrap_mean(values, resamples=2000, seed=0):
  """(mean, 2.5th, 97.5th percentile) of the mean of `values` (one per pair) over
  bootstrap resamples of the pairs."""
  values = np.asarray(values, np.float64)
  rng = np.random.default_rng(seed)
  means = values[rng.integers(len(values), size=(resamples, len(values)))].mean(axis=1)
  return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def win_rate(a, b, resamples=2000, seed=0):
  """(share of pairs where `a` has the lower regret, a tie counting one half, and its
  paired bootstrap 95% interval) for regrets `a`, `b` of the same pairs."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return bootstrap_mean((a < b) + 0.5 * (a == b), resamples, seed)
