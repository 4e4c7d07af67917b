"""What an iteration trains: the controller's samples, and what takes some of their slots.

`SlotFiller.fill` fills an iteration's `children_per_iteration` slots:
  1. the controller samples one config per slot; with `candidates_per_slot` > 1 it samples
     that many per slot, and the acquisition of transfer/assisted.py (the value network
     `search.value_network`, corrected by the task's own children) keeps the best distinct
     configs not yet trained for the task;
  2. the first iteration of a task with initial configs (transfer/warm_start.py) holds them
     in its first slots;
  3. with `retrain_slots`, once the task has children, that many last slots re-train its
     configs of the best estimated accuracy (search/incumbent.py, shrunk_mean) that have
     fewer than `max_draws` draws, each with its slot's own, new child seed: within the same
     budget, the configs a search would deploy are seen more than once.
The controller learns from every slot with its behaviour log-probability of the config there
(as `sample` returns it for its own draws). What the filler reads of the task's children is
fixed when the iteration is sampled (those of iterations complete by then, the runner's
rule), so that a resume fills every iteration identically.
"""
import dataclasses

import numpy as np

from mnms_tf.search import incumbent
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import assisted
from mnms_tf.transfer import warm_start

RunDirError = run_dir_lib.RunDirError
# The controllers whose samples the filler may replace or choose among: a peer (TPE, Keras
# Tuner, SMAC) is told the result of the config it asked for.
_FILLABLE = ('mnms', 'random')


@dataclasses.dataclass(frozen=True)
class ProposalSettings:
  """A search's slot-filling settings (gin: `search.*`, see runner.SearchSettings).

  retrain_slots: slots of each iteration (the last ones) that re-train promising configs.
  max_draws: a config is re-trained until it has this many draws.
  candidates_per_slot: the controller's samples per slot among which the value network
    picks (1: none, the paper).
  """
  retrain_slots: int = 0
  max_draws: int = 4
  candidates_per_slot: int = 1

  def check_proposals(self, controller_kind, children_per_iteration, reuse_evaluated):
    """RunDirError for settings that cannot work together; writes nothing."""
    if not 0 <= self.retrain_slots < children_per_iteration:
      raise RunDirError(f'search.retrain_slots must be between 0 and children_per_iteration - '
                        f'1 ({children_per_iteration - 1}), got {self.retrain_slots}')
    if self.max_draws < 2:
      raise RunDirError(f'search.max_draws must be at least 2 (a re-train is a second draw), '
                        f'got {self.max_draws}')
    if self.candidates_per_slot < 1:
      raise RunDirError(f'search.candidates_per_slot must be at least 1, got '
                        f'{self.candidates_per_slot}')
    if (self.retrain_slots or self.assisted) and controller_kind not in _FILLABLE:
      raise RunDirError(f'search.retrain_slots and search.candidates_per_slot work with the '
                        f'{" and ".join(_FILLABLE)} controllers, not {controller_kind}')
    if self.retrain_slots and reuse_evaluated:
      raise RunDirError('search.retrain_slots trains configs again, search.reuse_evaluated '
                        'copies them: give one of the two')

  @property
  def assisted(self):
    return self.candidates_per_slot > 1

  def record(self):
    """The settings as run.json holds them, with the acquisition's when assisted."""
    fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(ProposalSettings)}
    return dict(fields, acquisition=dataclasses.asdict(assisted.AcquisitionSettings())
                if self.assisted else None)

  def proposal_plan(self, task_features, tasks):
    """What a new run records for its proposals: when assisted, the tasks' representations
    (so that a resume needs no task-features service)."""
    if not self.assisted:
      return {'task_representations': None}
    if task_features is None:
      raise RunDirError('search.candidates_per_slot > 1 rates configs for the task: the search '
                        'needs a task-features service (data.features.TaskFeatures)')
    return {'task_representations': {
        t: np.asarray(task_features.representation(t), np.float64).tolist() for t in tasks}}


class SlotFiller:
  """Fills the iterations of one search (module doc)."""

  def __init__(self, info, controller, space, first_iterations):
    """first_iterations: task -> the first iteration that searches it (the runner's
    schedule)."""
    self.info, self.controller, self.space = info, controller, space
    self.width = info['children_per_iteration']
    self.first_iterations = first_iterations
    self.first_configs = warm_start.first_configs(info)
    self.acquisition = None
    if info['candidates_per_slot'] > 1:
      self.acquisition = assisted.Acquisition(
          info['value_network'], info['task_representations'], space,
          assisted.AcquisitionSettings(**info['acquisition']))

  def fill(self, index, task, task_indices, history, pending):
    """(actions [width, K], behaviour log-probabilities [width]) of iteration `index` for
    `task`; `history`: the task's stored trials that the module doc lets it read;
    `pending`: the hashes of its configs sampled before but not in `history`."""
    if self.acquisition is None:
      actions, log_probabilities = self.controller.sample(task_indices)
    else:
      actions, log_probabilities = self._assisted(task, task_indices, history, pending)
    actions, log_probabilities = np.array(actions), np.array(log_probabilities)
    given = {}
    if self.first_iterations[task] == index:
      given.update(enumerate(self.first_configs.get(task) or []))
    retrain = self.info['retrain_slots']
    if retrain and history:
      configs = {row['config_hash']: row['config'] for row in history}
      chosen = incumbent.to_retrain([row['config_hash'] for row in history],
                                    [_accuracy(row) for row in history], retrain,
                                    self.info['max_draws'], pending)
      for slot, config_hash in zip(range(self.width - len(chosen), self.width), chosen):
        given.setdefault(slot, configs[config_hash])
    if given:
      slots = sorted(given)
      actions[slots] = [self.space.to_actions(given[s]) for s in slots]
      log_probabilities[slots] = self.controller.log_probabilities(
          [task_indices[s] for s in slots], actions[slots])
    return actions, log_probabilities

  def _assisted(self, task, task_indices, history, pending):
    """The controller's `candidates_per_slot` samples per slot, cut to the width by the
    acquisition: the best distinct configs neither trained nor pending (then the best
    others, if the controller proposed too few)."""
    actions, log_probabilities = self.controller.sample(
        list(task_indices) * self.info['candidates_per_slot'])
    actions, log_probabilities = np.asarray(actions), np.asarray(log_probabilities)
    ok = [row for row in history if row['status'] == store_lib.OK]
    scores = self.acquisition.scores(task, actions,
                                     [self.space.to_actions(row['config']) for row in ok],
                                     [row['val_accuracy'] for row in ok])
    order = np.argsort(-scores, kind='stable')
    seen = {row['config_hash'] for row in history} | set(pending)
    chosen = []
    for k in order:
      config_hash = self.space.config_hash(self.space.to_config(actions[k]))
      if config_hash not in seen:
        seen.add(config_hash)
        chosen.append(k)
    chosen = (chosen + [k for k in order if k not in chosen])[:self.width]
    return actions[chosen], log_probabilities[chosen]


def _accuracy(row):
  return row['val_accuracy'] if row['status'] == store_lib.OK else 0.0

