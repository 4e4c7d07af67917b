"""Baselines on the tiny task: the hand-tuned config rule and TF-IDF model selection."""
import json

import gin
import pytest

import conftest
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


def test_the_binary_prints_both_baselines_and_refuses_an_unknown_task(tiny_task, tmp_path):
  gin_file = tmp_path / 'baselines.gin'
  gin_file.write_text(tiny_task + """
      import mnms_tf.children.baselines
      hand_tuned_config.embeddings = {'en': 'en-dim50'}
      hand_tuned_config.iterations = 100""")
  result = conftest.run_binary('mnms_tf.bin.baselines', '--tasks=tiny', f'--gin_file={gin_file}',
                               '--json')
  assert result.returncode == 0, result.stderr[-2000:]
  scores = json.loads(result.stdout.strip().splitlines()[-1])['tiny']
  assert sorted(scores) == ['hand_tuned', 'tfidf']
  assert all(score['val'] >= 0.9 for score in scores.values()), scores
  refused = conftest.run_binary('mnms_tf.bin.baselines', '--tasks=nope', f'--gin_file={gin_file}')
  assert refused.returncode == 1 and 'Traceback' not in refused.stderr
  assert refused.stderr.strip().splitlines()[-1].startswith('baselines: error: ')
