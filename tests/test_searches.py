"""RaySearches' schedule, on a stand-in for Ray that runs a task when it is waited for:
which searches start when, and what a failed one does to the others. (On a real cluster,
with a node lost: test_ray_cluster.py.)"""
import types

from mnms_tf import errors
from mnms_tf.experiments import searches


class _RayError(Exception):
  """A task that raised (`cause`: what it raised) or whose process died."""

  def __init__(self, message, cause=None):
    super().__init__(message)
    self.cause = cause


class _Ray:
  """remote / wait / get: the oldest task waited for runs then."""

  exceptions = types.SimpleNamespace(RayError=_RayError)

  def __init__(self, failing):
    self.failing, self.started = failing, []

  def remote(self, **options):
    del options
    return lambda function: types.SimpleNamespace(remote=self._submit)

  def _submit(self, job, *args):
    del args
    self.started.append(job.label)
    return job.label

  def wait(self, refs, num_returns):
    assert num_returns == 1
    return [refs[0]], refs[1:]

  def get(self, label):
    if label in self.failing:
      raise self.failing[label]
    return {'children': 8, 'best': {label: {'val_accuracy': 0.5}}}


def _job(label, after=()):
  return searches.SearchJob(f'/runs/{label}', 1, {}, after=tuple(f'/runs/{a}' for a in after),
                            label=label)


def _run(jobs, concurrency, monkeypatch, failing=None):
  """(the labels of the searches in the order they started, the UserError raised or None)."""
  ray = _Ray(failing or {})
  monkeypatch.setattr(searches, 'finished', lambda run_dir, iterations: run_dir == '/runs/done')
  try:
    searches.RaySearches(concurrency, 1, '/data')._run(ray, jobs)  # pylint: disable=protected-access
  except errors.UserError as e:
    return ray.started, e
  return ray.started, None


def test_searches_start_in_order_as_slots_free_and_a_transfer_after_its_source(monkeypatch):
  jobs = [_job('multitask'), _job('transfer', after=['multitask']), _job('scratch'),
          _job('on_policy'), _job('done'), _job('after_done', after=['done'])]
  assert _run(jobs, 2, monkeypatch) == (
      ['multitask', 'scratch', 'transfer', 'on_policy', 'after_done'], None)
  assert _run(jobs, 1, monkeypatch) == (
      ['multitask', 'transfer', 'scratch', 'on_policy', 'after_done'], None)


def test_a_failed_search_stops_no_other_and_its_error_is_raised_at_the_end(monkeypatch):
  jobs = [_job('a'), _job('b'), _job('c', after=['a']), _job('d')]
  mistake = errors.UserError('Bad gin config: NoSuchThing')
  started, error = _run(jobs, 2, monkeypatch, {'a': _RayError('raised', cause=mistake)})
  assert started == ['a', 'b', 'd'] and error is mistake  # the search's own one line
  started, error = _run(jobs, 2, monkeypatch, {'a': _RayError('node lost')})
  assert started == ['a', 'b', 'd']
  assert str(error) == ('1 of 4 searches did not finish (1 more waited for them), the first '
                        '(a) with _RayError: node lost; the others are stored: run again to '
                        'resume')


def test_a_search_waiting_for_one_nobody_runs_is_refused(monkeypatch):
  started, error = _run([_job('a'), _job('b', after=['x'])], 2, monkeypatch)
  assert started == ['a']
  assert str(error) == "b waits for ['/runs/x'], which no search here provides"
