"""The suite's task builders (docs/data.md) on fixture files they make, and the language-id
variants on the installed wordfreq."""
import gzip
import os

import numpy as np
import pytest

from mnms_tf.data.tasks import builders
from mnms_tf.data.tasks import registry


def _write_manual(data_dir, filename, data):
  manual = os.path.join(data_dir, 'downloads', 'manual')
  os.makedirs(manual, exist_ok=True)
  with open(os.path.join(manual, filename), 'wb') as f:
    f.write(data)


def _all_rows(name, data_dir):
  splits = [registry.load_split(name, s, data_dir) for s in registry.SPLITS]
  return (np.concatenate([s.texts for s in splits]),
          np.concatenate([s.labels for s in splits]))


def test_every_suite_task_is_registered_with_its_builder():
  assert len(registry.SUITE_TASKS) >= 12
  assert set(registry.OFFLINE_TASKS) <= set(registry.SUITE_TASKS)
  for name in registry.SUITE_TASKS:
    task = registry.get_task(name)
    assert not task.needs_internet
    assert task.builder('/nonexistent').info.features['label'].num_classes == task.num_classes


def test_drop_duplicates_keeps_the_first_of_each_text_and_counts_the_rest():
  rows = builders.Rows()
  for text, label in [('a', 1), ('b', 0), ('a', 0), ('c', 1), ('b', 0)]:
    rows.add(text, label)
  rows.drop_duplicates()
  assert rows.examples == [('a', 1), ('b', 0), ('c', 1)] and rows.skipped_by_rule == 2


def test_french_amazon_reads_review_then_label_and_drops_repeats(tmp_path):
  lines = [f'"Critique numéro {i}, {"excellent" if i % 2 else "nul"}","{1 if i % 2 else -1}"'
           for i in range(20)]
  lines += [lines[3], lines[4], '"label first?","maybe"', '"1","Texte"']
  _write_manual(str(tmp_path), 'polarity-fr-amazon.csv', '\n'.join(lines).encode())
  texts, labels = _all_rows('fr_amazon_reviews', str(tmp_path))
  assert len(texts) == 20 and len(set(texts)) == 20
  assert all(('excellent' in t) == (label == 1) for t, label in zip(texts, labels))
  assert registry.get_task('fr_amazon_reviews').skipped(str(tmp_path)) == {
      'skipped_garbled': 2, 'skipped_by_rule': 2}


def test_debate_speakers_keeps_the_candidates_turns_of_a_gzipped_csv(tmp_path):
  header = 'speaker,statement,debate,party,speaker and debate\n'
  speakers = ['TRUMP', 'CLINTON', 'PENCE', 'KAINE', 'HOLT']
  body = ''.join(f'{speakers[i % 5]},"Turn {i} by {speakers[i % 5].lower()},\nwith a comma",'
                 f'1st,x,y\n' for i in range(40))
  body += 'TRUMP,"Wrong.",1st,x,y\n' * 3 + 'CLINTON,"too",many,fields,here,!\n'
  _write_manual(str(tmp_path), 'presidential_debates_2016.csv.gz',
                gzip.compress((header + body).encode()))
  texts, labels = _all_rows('debate_speakers', str(tmp_path))
  names = builders.DebateSpeakers.LABELS
  assert len(texts) == 32 + 1  # 8 moderator turns left out; 'Wrong.' once
  assert all(names[label].lower() in text for text, label in zip(texts, labels)
             if text != 'Wrong.')
  assert sorted(set(labels)) == [0, 1, 2, 3]
  assert registry.get_task('debate_speakers').skipped(str(tmp_path)) == {
      'skipped_garbled': 1, 'skipped_by_rule': 8 + 2}


def test_labelled_csv_without_its_columns_is_a_clear_error():
  with pytest.raises(builders.TaskDataError, match="expected columns 'text' and 'party'"):
    builders.parse_labelled_csv('speaker,words\na,b\n', 'text', 'party', ('x', 'y'))


@pytest.mark.parametrize('name,positive,others', [
    ('german_langid', 'de', ('en', 'es', 'ja')), ('french_langid', 'fr', ('en', 'es', 'ja')),
    ('italian_langid', 'it', ('en', 'es', 'ja'))])
def test_language_id_variants_label_their_own_language(tmp_path, name, positive, others):
  wordfreq = pytest.importorskip('wordfreq')
  texts, labels = _all_rows(name, str(tmp_path))
  labelled = dict(zip(texts, labels))
  assert len(labelled) == len(texts)  # each token once
  own = set(wordfreq.top_n_list(positive, 5000))
  assert {t for t, label in labelled.items() if label} == own
  assert set(labelled) == own.union(*(wordfreq.top_n_list(o, 5000) for o in others))
