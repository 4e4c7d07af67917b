"""The pipelined runner: the next iteration is sampled and trained while the last one
finishes; results arrive out of order; an interrupted search resumes exactly."""
import json

import numpy as np
import pytest

from mnms_tf.controllers import agent as agent_lib
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.evaluation import synthetic

TARGETS = synthetic.example_targets(search_space.SearchSpace().sizes)
TASKS = ['a', 'b']
WIDTH = 4  # children per iteration


class _Interrupted(Exception):
  pass


class _OutOfOrder(synthetic.SyntheticChildren):
  """Synthetic children that finish in a seeded random order, like a pool's, log every
  submit and result, and can stop the search (like a kill) after `stop_after` results."""

  def __init__(self, order_seed=0, stop_after=None):
    super().__init__({t: TARGETS[t] for t in TASKS})
    self.rng = np.random.default_rng(order_seed)
    self.stop_after = stop_after
    self.events = []

  def submit(self, key, job):
    self.events.append(('submit', key))
    super().submit(key, job)

  def next_result(self):
    if self.stop_after is not None and sum(e[0] == 'result' for e in self.events) >= (
        self.stop_after):
      raise _Interrupted()
    queued = self._queue._jobs  # pylint: disable=protected-access
    queued.rotate(-int(self.rng.integers(len(queued))))  # a random child trains next
    key, result, worker = super().next_result()
    self.events.append(('result', key))
    return key, result, worker


def _search(root_dir, evaluator, iterations, pipelined=True, checkpoint_every=1,
            reuse_evaluated=False, create_controller=None):
  return runner.search(
      str(root_dir), runner.Budget(iterations=iterations), evaluator, tasks=TASKS,
      create_controller=create_controller or controller_lib.ControllerFactory(),
      children_per_iteration=WIDTH,
      seed=3, pipelined=pipelined, checkpoint_every=checkpoint_every,
      reuse_evaluated=reuse_evaluated)


def _trials(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return [(r['iteration'], r['slot'], r['task'], json.dumps(r['config'], sort_keys=True),
             r['seed'], r['reward'], r['reused_from'] is not None) for r in store.trials()]


def _weights(summary):
  return [w.numpy() for w in summary['controller'].actor.weights]


def _first(events, kind, index, last=False):
  positions = [k for k, (what, (i, _)) in enumerate(events) if what == kind and i == index]
  return positions[-1] if last else positions[0]


def test_the_next_iteration_trains_before_the_last_one_is_learned_from(tmp_path):
  """Pipelined, iteration j is submitted as soon as iteration j - 2 is complete (no result
  arrives in between), so it often overlaps iteration j - 1; synchronously, only after
  iteration j - 1 is complete."""
  pipelined, synchronous = _OutOfOrder(), _OutOfOrder()
  _search(tmp_path / 'pipelined', pipelined, iterations=5)
  _search(tmp_path / 'synchronous', synchronous, iterations=5, pipelined=False)
  events = pipelined.events
  assert _first(events, 'submit', 1) < _first(events, 'result', 0)
  for j in range(2, 5):
    complete = _first(events, 'result', j - 2, last=True)
    submitted = _first(events, 'submit', j)
    assert complete < submitted
    assert all(what == 'submit' for what, _ in events[complete + 1:submitted])
  overlaps = [_first(events, 'submit', j) < _first(events, 'result', j - 1, last=True)
              for j in range(1, 5)]
  assert sum(overlaps) >= 2, overlaps
  events = synchronous.events
  for j in range(1, 5):
    assert _first(events, 'result', j - 1, last=True) < _first(events, 'submit', j)
  assert len(_trials(tmp_path / 'pipelined')) == len(_trials(tmp_path / 'synchronous')) == 20


def test_pipelined_iterations_are_sampled_by_the_controller_one_iteration_older(tmp_path):
  """Iterations 0 and 1 are both drawn by the initial controller; synchronously, iteration
  1 is drawn after learning from iteration 0 (a controller that learns fast enough to
  change its draws in one iteration)."""
  space = search_space.SearchSpace()
  fast = controller_lib.ControllerFactory(
      agent=agent_lib.AgentSettings(actor_learning_rate=0.5, polyak_tau=0.0))
  fresh = fast(TASKS, space, seed=3)
  draws = []
  for i in range(2):
    task = TASKS[runner.iteration_task(3, i, len(TASKS))]
    actions, _ = fresh.sample([fresh.task_index(task)] * WIDTH)
    draws.append([json.dumps(space.to_config(a), sort_keys=True) for a in actions])
  for pipelined in (True, False):
    root = tmp_path / str(pipelined)
    _search(root, _OutOfOrder(), iterations=2, pipelined=pipelined, create_controller=fast)
    stored = [[t[3] for t in _trials(root) if t[0] == i] for i in range(2)]
    assert stored[0] == draws[0]
    assert (stored[1] == draws[1]) == pipelined


@pytest.mark.parametrize('stop_after,checkpoint_every,reuse_evaluated', [
    pytest.param(3, 1, False, marks=pytest.mark.slow),
    pytest.param(10, 1, True, marks=pytest.mark.slow),
    (17, 3, False),  # the fast tier's
    pytest.param(26, 2, True, marks=pytest.mark.slow)])
def test_an_interrupted_pipelined_search_resumes_exactly(tmp_path, stop_after,
                                                         checkpoint_every, reuse_evaluated):
  """Stopped after any number of results (mid-iteration, the next one in flight), then
  resumed with another arrival order: the trials and controller of one uninterrupted run."""
  whole = _search(tmp_path / 'whole', _OutOfOrder(), 8, reuse_evaluated=reuse_evaluated)
  root = tmp_path / 'resumed'
  with pytest.raises(_Interrupted):
    _search(root, _OutOfOrder(stop_after=stop_after), 8, checkpoint_every=checkpoint_every,
            reuse_evaluated=reuse_evaluated)
  assert 0 < len(_trials(root)) < 8 * WIDTH
  resumed = _search(root, _OutOfOrder(order_seed=1), 8, checkpoint_every=checkpoint_every,
                    reuse_evaluated=reuse_evaluated)
  assert _trials(root) == _trials(tmp_path / 'whole')
  # Exact trials; the weights can differ in their last bits (3e-8, seen since ec9edc0 when
  # this file runs alone, never in the whole suite; the cause is not found yet).
  for got, expected in zip(_weights(resumed), _weights(whole)):
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.slow  # three searches; test_an_interrupted_pipelined_search_resumes_exactly[17-3-False] is the fast tier's resume
def test_a_longer_budget_continues_a_finished_pipelined_search_exactly(tmp_path):
  whole = _search(tmp_path / 'whole', _OutOfOrder(), 6)
  _search(tmp_path / 'extended', _OutOfOrder(), 3)
  extended = _search(tmp_path / 'extended', _OutOfOrder(order_seed=2), 6)
  assert _trials(tmp_path / 'extended') == _trials(tmp_path / 'whole')
  for got, expected in zip(_weights(extended), _weights(whole)):
    np.testing.assert_array_equal(got, expected)


def test_a_run_keeps_its_mode_and_older_runs_are_synchronous(tmp_path):
  root = tmp_path / 'run'
  _search(root, _OutOfOrder(), 1, pipelined=False)
  with pytest.raises(runner.RunDirError, match='pipelined: stored False, now True'):
    _search(root, _OutOfOrder(), 2)
  info = json.loads((root / 'run.json').read_text())
  assert info['pipelined'] is False
  del info['pipelined']  # as written before pipelining
  (root / 'run.json').write_text(json.dumps(info))
  assert _search(root, _OutOfOrder(), 2, pipelined=False)['iterations'] == 2


def test_on_policy_reinforce_is_refused_the_pipelined_loop(tmp_path):
  """REINFORCE assumes samples of the policy it updates; before, AgentSettings.mode =
  'on_policy' on a pipelined gin file silently ran a pipelined REINFORCE."""
  from mnms_tf import configs  # pylint: disable=g-import-not-at-top
  configs.parse(['search/multitask.gin'], ["AgentSettings.mode = 'on_policy'"])
  on_policy = controller_lib.ControllerFactory()
  assert on_policy.agent.mode == agent_lib.ON_POLICY
  with pytest.raises(runner.RunDirError, match='bind search.pipelined = False'):
    _search(tmp_path / 'run', synthetic.SyntheticChildren(TARGETS), 1,
            create_controller=on_policy)
  assert not (tmp_path / 'run').exists()
  summary = _search(tmp_path / 'run', synthetic.SyntheticChildren(TARGETS), 1, pipelined=False,
                    create_controller=on_policy)
  assert summary['iterations'] == 1
