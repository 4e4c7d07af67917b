"""The suite figures' helpers on hand-made inputs (the figures themselves are drawn from a
whole synthetic suite experiment in tests/test_suite_experiment.py, slow tier)."""
import json

from mnms_tf.experiments.figures import suite_similarity
from mnms_tf.experiments.figures import suite_transfer


def test_reach_counts_mark_the_searches_that_never_reached():
  assert suite_transfer.reach_counts({'reach': [12, 40], 'reached': [True, False]}) == '12, >40'


def test_agreement_is_what_make_wrote_or_none(tmp_path):
  assert suite_similarity.agreement(str(tmp_path)) is None
  (tmp_path / suite_similarity.DATA).write_text(json.dumps({'spearman': 0.5}))
  assert suite_similarity.agreement(str(tmp_path)) == 0.5
