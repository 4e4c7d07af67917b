"""Which config a search would deploy after its children, and which deserve another seed.

A child's validation accuracy is one draw: on a small validation set its standard error is
several points, and the best of many draws sits far above what its config really scores.
Rules (`deployed`), over a task's children in search order (a failed child scores 0):
  best_draw: the child with the best validation accuracy so far (the first on ties): what
    every search deploys by default, and Optuna's best_trial.
  best_mean: the config whose draws have the best mean (more draws, then the earliest, first
    on ties).
  shrunk_mean: each config's mean shrunk towards the mean of all configs' means by the
    empirical-Bayes weight n / (n + k), k = s_within^2 / tau^2: the pooled variance of the
    draws of configs drawn more than once over the variance of the configs' true means (the
    variance of their means less its noise share). One lucky draw then counts for less than
    a config seen several times, as much less as the task is noisy. Until some config has
    two draws nothing measures the noise, and k = 0 (best_mean: without repeats, best_draw).
`to_retrain` picks by the same estimate the configs a search re-trains (search/proposals.py).
"""
import numpy as np

BEST_DRAW, BEST_MEAN, SHRUNK_MEAN = 'best_draw', 'best_mean', 'shrunk_mean'
RULES = (BEST_DRAW, BEST_MEAN, SHRUNK_MEAN)


def shrinkage(draws):
  """k of the module doc for {config: [draws]}."""
  repeated = [np.asarray(d, np.float64) for d in draws.values() if len(d) > 1]
  if not repeated:
    return 0.0
  within = (sum(((d - d.mean()) ** 2).sum() for d in repeated) /
            sum(len(d) - 1 for d in repeated))
  means = np.array([np.mean(d) for d in draws.values()])
  counts = np.array([len(d) for d in draws.values()])
  between = np.var(means) - within * np.mean(1.0 / counts)
  return float(within / max(between, within * 1e-4, 1e-12))


def estimates(draws, rule=SHRUNK_MEAN):
  """{config: estimated accuracy} for {config: [draws]} under `rule` (module doc; for
  best_draw, the config's best draw)."""
  if rule not in RULES:
    raise ValueError(f'deploy rule must be one of {RULES}, got {rule!r}')
  if rule == BEST_DRAW:
    return {c: max(d) for c, d in draws.items()}
  k = shrinkage(draws) if rule == SHRUNK_MEAN else 0.0
  prior = np.mean([np.mean(d) for d in draws.values()])
  return {c: (sum(d) + k * prior) / (len(d) + k) for c, d in draws.items()}


def _ranked(draws, rule):
  """Configs best first: estimate, then more draws, then first drawn (dicts keep order)."""
  value = estimates(draws, rule)
  order = {c: i for i, c in enumerate(draws)}
  return sorted(draws, key=lambda c: (-value[c], -len(draws[c]), order[c]))


def deployed(config_hashes, val_accuracies, rule=BEST_DRAW):
  """The config hash deployed after each n = 1..len children."""
  if rule not in RULES:
    raise ValueError(f'deploy rule must be one of {RULES}, got {rule!r}')
  draws, chosen, best = {}, [], None
  for config_hash, accuracy in zip(config_hashes, val_accuracies):
    if rule == BEST_DRAW:  # the first child of the best draw stays on ties
      if best is None or accuracy > best[0]:
        best = (accuracy, config_hash)
      chosen.append(best[1])
      continue
    draws.setdefault(config_hash, []).append(float(accuracy))
    chosen.append(_ranked(draws, rule)[0])
  return chosen


def to_retrain(config_hashes, val_accuracies, count, max_draws, pending=(),
               rule=SHRUNK_MEAN):
  """Up to `count` configs, best estimated first, with fewer than `max_draws` draws and
  none `pending` (being trained: its draw would not be seen before this one is chosen)."""
  draws = {}
  for config_hash, accuracy in zip(config_hashes, val_accuracies):
    draws.setdefault(config_hash, []).append(float(accuracy))
  return [c for c in _ranked(draws, rule)
          if len(draws[c]) < max_draws and c not in pending][:count]
