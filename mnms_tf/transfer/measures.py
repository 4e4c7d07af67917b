"""How searches are judged: one definition of each measure, used by the report, the suite
experiment, its figures and the peer comparison.

A *curve* is the validation accuracies of a task's children in the order a search trained
them (a failed child counts as 0, as its reward does). The paper's figures read it smoothed
(`smooth`) and its report times a search by when the smoothed curve reaches 95% of its
final best; the sequel's protocol (the suite experiment) by when the raw best so far
reaches 99% of the best known: both are `children_to_reach` on their curve.
"""
import numpy as np
from scipy import signal


def smooth(values, window=31, polyorder=2):
  """Savitzky-Golay smoothing, as in the paper's figures; the window shrinks (odd) for short
  curves."""
  values = np.asarray(values, np.float64)
  window = min(window, len(values) if len(values) % 2 else len(values) - 1)
  if window <= polyorder:
    return values
  return signal.savgol_filter(values, window, polyorder)


def best_so_far(curve):
  """The best accuracy among the first k children, for every k."""
  return np.maximum.accumulate(np.asarray(curve, np.float64))


def best_after(curve, children):
  """The best accuracy among the first `children` children."""
  return float(np.max(np.asarray(curve)[:children]))


def children_to_reach(curve, target):
  """Children trained until the curve first reaches `target` (None if it never does)."""
  reached = np.nonzero(np.asarray(curve) >= target)[0]
  return int(reached[0]) + 1 if len(reached) else None


def censored_children_to_reach(curve, target):
  """(children trained until one reached `target`, whether one did): the whole curve's
  length if none did, a lower bound."""
  reached = children_to_reach(curve, target)
  return (reached, True) if reached is not None else (len(curve), False)


def first_mean(curve, children):
  """The mean accuracy of the first `children` children: how good a search starts."""
  return float(np.mean(np.asarray(curve)[:children]))


def geometric_mean(values):
  return float(np.exp(np.mean(np.log(values))))
