"""Shared by the figure scripts: flags, matplotlib set-up, output paths."""
import os

from absl import app
from absl import flags
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

OUTPUT_DIR = 'paper_figures'  # relative to where the scripts run: the repository


def run(make, default_root='runs/reproduction'):
  """The command line of every script here: make(--root_dir, --output_dir), path printed."""
  flags.DEFINE_string('root_dir', default_root, 'Experiment directory (written by '
                      'mnms_tf.bin.reproduce).')
  flags.DEFINE_string('output_dir', OUTPUT_DIR, 'Where the figure or table is written.')
  app.run(lambda argv: print(make(flags.FLAGS.root_dir, flags.FLAGS.output_dir)))


def save(figure, output_dir, name):
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, name)
  figure.savefig(path, dpi=120, bbox_inches='tight')
  plt.close(figure)
  return path


def band(axis, children, mean, low, high, label, color):
  axis.plot(children, mean, color=color, label=label)
  axis.fill_between(children, low, high, color=color, alpha=0.2, linewidth=0)


def markdown_table(header, rows):
  """The lines of a markdown table."""
  return (['| ' + ' | '.join(str(v) for v in header) + ' |', '|' + '---|' * len(header)] +
          ['| ' + ' | '.join(str(v) for v in row) + ' |' for row in rows])
