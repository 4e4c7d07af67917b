r"""Exports a run's trials to an Optuna storage (one study per task) or to CSV.

  python -m mnms_tf.bin.export_trials --root_dir=runs/multitask \
      --to=optuna:sqlite:///trials.db [--study_prefix=NAME]
  python -m mnms_tf.bin.export_trials --root_dir=runs/multitask --to=csv:trials.csv

Then e.g. `optuna-dashboard sqlite:///trials.db` (pip install optuna-dashboard), or
`optuna.visualization.plot_param_importances(optuna.load_study(study_name=...,
storage=...))`. Studies are named `<prefix>:<task>` (prefix default: --root_dir as given);
see mnms_tf/search/trial_export.py for what each trial holds. Nothing is overwritten: an existing
study or file is refused.
"""
from absl import app
from absl import flags

from mnms_tf import cli
from mnms_tf import errors
from mnms_tf.search import trial_export

_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None, 'Search run directory.')
_TO = flags.DEFINE_string('to', None, 'optuna:<storage URL> or csv:<path>.')
_STUDY_PREFIX = flags.DEFINE_string('study_prefix', None, 'Optuna study names: '
                                    '<prefix>:<task> (default: --root_dir).')


def main(argv):
  del argv
  kind, _, target = _TO.value.partition(':')
  try:
    if kind == 'optuna' and target:
      written = trial_export.to_optuna(_ROOT_DIR.value, target,
                                       _STUDY_PREFIX.value or _ROOT_DIR.value)
      for name, count in written.items():
        print(f'{name}: {count} trials')
    elif kind == 'csv' and target:
      print(f'{target}: {trial_export.to_csv(_ROOT_DIR.value, target)} trials')
    else:
      raise trial_export.ExportError(f'--to must be optuna:<storage URL> or csv:<path>, got '
                                     f'{_TO.value!r}')
  except errors.UserError as e:
    errors.exit_with('export_trials', e)


if __name__ == '__main__':
  flags.mark_flags_as_required(['root_dir', 'to'])
  app.run(main)
