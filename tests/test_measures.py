"""The measures every report, experiment and figure judges searches by, on hand-computed
numbers."""
import numpy as np
import pytest

from mnms_tf.transfer import measures


def test_best_so_far_and_best_after():
  curve = [0.5, 0.7, 0.6, 0.9, 0.8]
  np.testing.assert_array_equal(measures.best_so_far(curve), [0.5, 0.7, 0.7, 0.9, 0.9])
  assert measures.best_after(curve, 3) == 0.7
  assert measures.best_after(curve, 100) == 0.9


def test_children_to_reach_and_its_censored_form():
  curve = np.array([0.5, 0.7, 0.9, 0.8])
  assert measures.children_to_reach(curve, 0.85) == 3
  assert measures.children_to_reach(curve, 0.5) == 1
  assert measures.children_to_reach(curve, 0.95) is None
  assert measures.censored_children_to_reach(curve, 0.85) == (3, True)
  assert measures.censored_children_to_reach(curve, 0.95) == (4, False)


def test_first_mean_and_geometric_mean():
  assert measures.first_mean([0.2, 0.4, 0.9], 2) == pytest.approx(0.3)
  assert measures.geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
  assert measures.geometric_mean([2.0, 8.0, 4.0]) == pytest.approx(4.0)


def test_smooth_keeps_a_line_and_leaves_short_curves_alone():
  line = np.linspace(0.1, 0.9, 50)
  np.testing.assert_allclose(measures.smooth(line), line, atol=1e-12)
  np.testing.assert_array_equal(measures.smooth([0.5, 0.6]), [0.5, 0.6])
