"""Task builders, splits and the registry, on tiny fixture files."""
import json
import os
import time

import gin
import numpy as np
import pytest

from mnms_tf import online
from mnms_tf.tasks import builders
from mnms_tf.tasks import registry


def _write_manual(data_dir, filename, text):
  manual = os.path.join(data_dir, 'downloads', 'manual')
  os.makedirs(manual, exist_ok=True)
  with open(os.path.join(manual, filename), 'w', encoding='utf-8') as f:
    f.write(text)


def _rt_fixture(num_rows):
  lines = [f'{i}\t{(-1) ** i * (1 + i / 10):.3f}\tSentence number {i}, quite {"good" if i % 2 == 0 else "bad"}.'
           for i in range(num_rows)]
  lines += ['999\t0.25\tA neutral sentence.', 'garbled line without tabs', '1000\tnot-a-number\tx',
            '1001\t1.5\t   ']
  return '\r\n'.join(lines) + '\r\n'


def test_label_langid_tokens_rule():
  lists = {'en': ['the', 'a', 'no'], 'es': ['de', 'a', 'no'], 'de': ['die', 'de']}
  labelled = dict(builders.label_langid_tokens(lists))
  assert labelled == {'die': 0, 'de': 1, 'the': 0, 'a': 1, 'no': 1}


def test_split_indices_deterministic_disjoint_complete():
  first = builders.split_indices(101, (0.8, 0.1, 0.1), seed=3)
  again = builders.split_indices(101, (0.8, 0.1, 0.1), seed=3)
  other = builders.split_indices(101, (0.8, 0.1, 0.1), seed=4)
  assert [len(first[s]) for s in builders.SPLITS] == [81, 10, 10]
  assert all(np.array_equal(first[s], again[s]) for s in builders.SPLITS)
  assert not np.array_equal(first['train'], other['train'])
  assert sorted(np.concatenate(list(first.values()))) == list(range(101))


def test_parsers_count_garbled_and_rule_skips():
  rows = builders.parse_rt_snippets(_rt_fixture(4), neutral_band=0.25)
  assert [label for _, label in rows.examples] == [1, 0, 1, 0]
  assert (rows.skipped_garbled, rows.skipped_by_rule) == (3, 1)
  assert len(builders.parse_rt_snippets(_rt_fixture(4)).examples) == 5  # no band: kept

  rows = builders.parse_polarity_csv('"1","great film"\n"-1","dull\nfilm"\n"0","?"\nbroken\n')
  assert rows.examples == [('great film', 1), ('dull\nfilm', 0)]
  assert rows.skipped_garbled == 2

  tweets = '\n'.join([json.dumps({'text': 'me encanta', 'klass': 'P'}),
                      json.dumps({'text': 'odio esto', 'klass': 'N'}),
                      json.dumps({'text': 'hola', 'klass': 'NEU'}), '{not json',
                      json.dumps({'klass': 'P'})])
  rows = builders.parse_es_tweets(tweets)
  assert rows.examples == [('me encanta', 1), ('odio esto', 0)]
  assert (rows.skipped_garbled, rows.skipped_by_rule) == (2, 1)


def test_rt_snippets_builder_from_manual_file(tmp_path):
  data_dir = str(tmp_path)
  _write_manual(data_dir, 'movieReviewSnippets_GroundTruth.txt', _rt_fixture(40))
  task = registry.get_task('rt_snippets')
  sizes = {s: len(registry.load_split('rt_snippets', s, data_dir)) for s in registry.SPLITS}
  assert sizes == {'train': 32, 'validation': 4, 'test': 4}
  train = registry.load_split('rt_snippets', 'train', data_dir)
  assert all(('good' in t) == (label == 1) for t, label in zip(train.texts, train.labels))
  assert task.skipped(data_dir) == {'skipped_garbled': 3, 'skipped_by_rule': 1}
  all_texts = np.concatenate([registry.load_split('rt_snippets', s, data_dir).texts
                              for s in registry.SPLITS])
  assert len(set(all_texts)) == 40


def test_builders_split_the_same_way_in_every_data_dir(tmp_path):
  texts = []
  for name in ('a', 'b'):
    data_dir = str(tmp_path / name)
    _write_manual(data_dir, 'tweets.json', '\n'.join(
        json.dumps({'text': f'tuit {i}', 'klass': 'PN'[i % 2]}) for i in range(30)))
    texts.append(list(registry.load_split('es_tweets', 'validation', data_dir).texts))
  assert texts[0] == texts[1] and len(texts[0]) == 6


def test_empty_source_is_a_clear_error(tmp_path):
  _write_manual(str(tmp_path), 'polarity-en-pang&lee1.csv', 'garbage\n')
  with pytest.raises(builders.TaskDataError, match='no usable rows.*1 garbled'):
    registry.get_task('polarity_reviews').prepare(str(tmp_path))


def test_corpus_cine_from_manual_xml(tmp_path):
  directory = tmp_path / 'downloads' / 'manual' / 'corpus_cine'
  directory.mkdir(parents=True)
  for i, rank in enumerate([1, 2, 3, 4, 5] * 4):
    body = f'Una película {"buena" if rank > 3 else "mala"} número {i}'
    directory.joinpath(f'{i}.xml').write_bytes(
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<review rank="{rank}"><body>{body}'
        f'</body></review>'.encode('latin-1'))
  directory.joinpath('99.xml').write_bytes(b'<review rank="5"><body>cut off')
  splits = {s: registry.load_split('corpus_cine', s, str(tmp_path)) for s in registry.SPLITS}
  assert sum(map(len, splits.values())) == 16
  texts = np.concatenate([s.texts for s in splits.values()])
  assert any('película' in t for t in texts)
  assert registry.get_task('corpus_cine').skipped(str(tmp_path)) == {
      'skipped_garbled': 1, 'skipped_by_rule': 4}


def test_corpus_cine_without_files_says_where_to_put_them(tmp_path):
  (tmp_path / 'downloads' / 'manual').mkdir(parents=True)
  (tmp_path / 'downloads' / 'manual' / 'unrelated').write_text('x')
  with pytest.raises(builders.TaskDataError, match='corpus_cine'):
    registry.get_task('corpus_cine').prepare(str(tmp_path))


def test_unknown_task_lists_known_tasks():
  with pytest.raises(registry.UnknownTaskError, match='rt_snippets.*spanish_langid'):
    registry.get_task('sst-2')


@pytest.mark.parametrize('name,stand_in', [('imdb_reviews', 'polarity_reviews'),
                                           ('sst2', 'rt_snippets')])
def test_online_dataset_fails_fast_offline(tmp_path, offline, name, stand_in):
  started = time.time()
  with pytest.raises(online.OfflineError, match=f'cannot be reached.*{stand_in}'):
    registry.load_split(name, 'train', str(tmp_path))
  assert time.time() - started < 30  # tfds alone would retry for minutes


def test_unreachable_host_is_detected_quickly():
  started = time.time()
  assert not online.is_reachable('https://127.0.0.1:9/', timeout=2)
  assert time.time() - started < 5


def test_user_task_from_gin_bindings_only(tmp_path):
  path = tmp_path / 'reviews.tsv'
  rows = ['review\tstars'] + [f'review {i} {"great" if i % 3 else "poor"}\t{"pos" if i % 3 else "neg"}'
                              for i in range(50)] + ['\tpos', 'no label here\t']
  path.write_text('\n'.join(rows) + '\n')
  gin.parse_config(f"""
      import mnms_tf.tasks.registry
      mine/FileTask.name = 'mine'
      mine/FileTask.path = '{path}'
      mine/FileTask.text_column = 'review'
      mine/FileTask.label_column = 'stars'
      mine/FileTask.language = 'fr'
      user_tasks.tasks = [@mine/FileTask()]
  """)
  task = registry.get_task('mine')
  assert (task.num_classes, task.language) == (2, 'fr')
  splits = {s: registry.load_split('mine', s, None) for s in registry.SPLITS}
  assert [len(splits[s]) for s in registry.SPLITS] == [40, 5, 5]
  train = splits['train']
  assert all(('great' in t) == (label == 1) for t, label in zip(train.texts, train.labels))
  assert task.skipped() == {'skipped_garbled': 2, 'skipped_by_rule': 0}


def test_user_task_with_split_column_and_bad_columns(tmp_path):
  path = tmp_path / 'data.csv'
  path.write_text('text,label,fold\na,x,train\nb,y,train\nc,x,validation\nd,y,test\ne,x,holdout\n')
  task = registry.FileTask(name='t', path=str(path), text_column='text', label_column='label',
                           split_column='fold')
  assert list(task.load('train').texts) == ['a', 'b']
  assert task.skipped()['skipped_garbled'] == 1
  bad = registry.FileTask(name='t', path=str(path), text_column='body', label_column='label')
  with pytest.raises(builders.TaskDataError, match=r"no column\(s\) \['body'\].*header"):
    bad.load('train')
  empty = tmp_path / 'empty.csv'
  empty.write_text('text,label\n')
  with pytest.raises(builders.TaskDataError, match='no usable rows'):
    registry.FileTask(name='e', path=str(empty), text_column='text', label_column='label').load('train')
