"""Writes a task file that is no suite task, to try find_model on: 3,700 English Amazon
product-review snippets with mean crowd sentiment scores (Hutto & Gilbert, ICWSM 2014,
shipped in the vaderSentiment source distribution, checksum-pinned), as a CSV with columns
`review` and `sentiment` (negative below -0.5, positive above 0.5, else neutral).

  .venv/bin/python scripts/example_task.py amazon_snippets.csv
"""
import csv
import sys

from mnms_tf.data import sources
from mnms_tf.data.tasks import builders
from mnms_tf import paths

AMAZON_SNIPPETS = sources.SdistMember(
    **builders._VADER_SDIST,  # pylint: disable=protected-access
    member='additional_resources/hutto_ICWSM_2014.tar.gz',
    nested_member='hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt',
    sha256='11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2')


def label(score):
  return 'negative' if score < -0.5 else 'positive' if score > 0.5 else 'neutral'


def main(output):
  path = sources.fetch_member(AMAZON_SNIPPETS, paths.downloads_dir(paths.default_data_dir()))
  with open(path, encoding='utf-8') as f, open(output, 'w', newline='') as out:
    writer = csv.writer(out)
    writer.writerow(['review', 'sentiment'])
    for line in f:
      fields = line.rstrip('\n').split('\t')
      if len(fields) == 3 and fields[2].strip():
        writer.writerow([fields[2].strip(), label(float(fields[1]))])
  print(f'wrote {output}')


if __name__ == '__main__':
  if len(sys.argv) != 2:
    sys.exit(__doc__)
  main(sys.argv[1])
