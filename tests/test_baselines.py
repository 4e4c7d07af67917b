"""Baselines on the tiny task: the hand-tuned config rule and TF-IDF model selection."""
import gin
import pytest

from mnms_tf.children import baselines


def test_hand_tuned_config_follows_the_task_language():
  assert baselines.hand_tuned_config('en')['embedding'] == 'en-dim128'
  assert baselines.hand_tuned_config('es')['embedding'] == 'es-dim128'
  assert baselines.hand_tuned_config('multi')['embedding'] == 'es-dim128'
  assert baselines.hand_tuned_config('fr')['embedding'] == 'en-dim128'
  gin.bind_parameter('hand_tuned_config.nlayers', 2)
  assert baselines.hand_tuned_config('en')['nlayers'] == 2


def test_tfidf_picks_c_on_validation(tiny_task):
  score = baselines.tfidf('tiny', None, cs=(1e-4, 10.0))
  assert score['val'] >= 0.9 and score['test'] >= 0.9 and score['detail'] == 'C=10.0'


def test_hand_tuned_child_runs(tiny_task):
  gin.bind_parameter('hand_tuned_config.embeddings', {'en': 'en-dim50'})
  gin.bind_parameter('hand_tuned_config.iterations', 100)
  score = baselines.hand_tuned('tiny', None)
  assert score['val'] >= 0.9 and '"embedding":"en-dim50"' in score['detail']


def test_hand_tuned_failure_is_reported(tiny_task):
  gin.bind_parameter('hand_tuned_config.embeddings', {'en': 'es-dim128'})  # not bound: missing
  with pytest.raises(RuntimeError, match='hand-tuned child failed on tiny'):
    baselines.hand_tuned('tiny', '/nonexistent')
