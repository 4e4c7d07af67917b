r"""Retrains the config a search deploys for a task and exports it as a SavedModel on raw
strings.

  python -m mnms_tf.bin.export_best --root_dir=runs/multitask --task=rt_snippets \
      --output=exports/rt_snippets [--deploy_rule=best_draw|best_mean|shrunk_mean] \
      [--gin_bindings=...]

The deployed config (search/incumbent.py): by default that of the best validation draw, or
for a search that re-trains configs (`search.retrain_slots`) the best shrunk mean; its
best-scoring trial is the one retrained.

The run's own config.gin (its first start's: the tasks and modules its children used) is
parsed first, then --gin_file and --gin_bindings; the child trainer's settings come from
run.json. The child is retrained with its stored seed, so its accuracy matches the
store's (printed side by side; a run whose data checksums differ from today's data says
so). OUTPUT gets the SavedModel, whose `serving_default`
signature maps `text` (a string batch) to `probabilities` and `label`, and
OUTPUT/mnms_config.json with the config, the task's label names and both accuracies:

  model = tf.saved_model.load(OUTPUT)
  model.signatures['serving_default'](text=tf.constant(['a fine film']))
"""
import json
import os

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from mnms_tf import cli
from mnms_tf.data import summary as data_summary
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors
from mnms_tf.search import incumbent
from mnms_tf.search import restore
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib

_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None, 'Search run directory.')
_TASK = cli.define(flags.DEFINE_string, 'task', None, 'Task whose best config is exported.')
_OUTPUT = flags.DEFINE_string('output', None, 'Directory to write (must not exist).')
_DEPLOY_RULE = flags.DEFINE_enum('deploy_rule', None, incumbent.RULES,
                                 'How the config is chosen (default: shrunk_mean for a search '
                                 'that re-trains configs, else best_draw).')
cli.define_data_dir()
cli.define_gin_flags()


class _Classifier(tf.Module):
  """The exported child: strings in, class probabilities and the argmax out."""

  def __init__(self, model):
    super().__init__()
    self.model = model

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='text')])
  def classify(self, text):
    probabilities = self.model(text)
    return {'probabilities': probabilities,
            'label': tf.argmax(probabilities, axis=-1, output_type=tf.int32)}


def _label_names(task):
  if isinstance(task, task_registry.FileTask):
    return task.prepare()[1]
  return [str(i) for i in range(task.num_classes)]


def deployed_trial(root_dir, task_name, rule=None):
  """(the trial to retrain: the best draw of the config `rule` deploys, the rule, the
  config's draws); rule None: the run's own (module doc)."""
  info = run_dir_lib.read_info(root_dir)
  rule = rule or (incumbent.SHRUNK_MEAN if info['retrain_slots'] else incumbent.BEST_DRAW)
  with store_lib.TrialStore(root_dir, read_only=True) as store:
    rows = store.trials(task=task_name)
    if not any(r['status'] == store_lib.OK for r in rows):
      raise run_dir_lib.RunDirError(f'{root_dir} has no successful trial of task {task_name!r} '
                                    f'(tasks stored: {store.tasks()})')
  accuracies = [r['val_accuracy'] if r['status'] == store_lib.OK else 0.0 for r in rows]
  chosen = incumbent.deployed([r['config_hash'] for r in rows], accuracies, rule)[-1]
  draws = [r for r in rows if r['config_hash'] == chosen]
  best = max((r for r in draws if r['status'] == store_lib.OK),
             key=lambda r: (r['val_accuracy'], -r['id']))
  return best, rule, draws


def export(root_dir, task_name, output, data_dir, rule=None):
  """Returns the export's metadata (what mnms_config.json holds)."""
  if os.path.exists(output):
    raise run_dir_lib.RunDirError(f'--output {output} exists already; choose a new directory')
  best, rule, draws = deployed_trial(root_dir, task_name, rule)
  info = run_dir_lib.read_info(root_dir)
  space = run_dir_lib.restore_search_space(info)
  trainer = restore.child_trainer(info, data_dir)
  today = data_summary.checksums([task_name], sorted(space.choices.get('embedding', ())),
                                 data_dir)
  for kind in ('tasks', 'modules'):
    for name, checksum in today[kind].items():
      if info['evaluator']['checksums'][kind].get(name) != checksum:
        logging.warning('The data of %s %s differ from what the run used (checksum %s, '
                        'now %s): the retrained child may not match the stored one', kind[:-1],
                        name, info['evaluator']['checksums'][kind].get(name), checksum)
  result, model = trainer.train_model(task_name, best['config'], best['seed'])
  if model is None:
    raise run_dir_lib.RunDirError(f'Retraining trial {best["id"]} failed: {result.message}')
  classifier = _Classifier(model)
  tf.saved_model.save(classifier, output, signatures={'serving_default': classifier.classify})
  metadata = dict(task=task_name, config=best['config'], config_hash=best['config_hash'],
                  seed=best['seed'], trial_id=best['id'], root_dir=os.path.abspath(root_dir),
                  deploy_rule=rule, draws=len(draws),
                  mean_val_accuracy=sum(r['val_accuracy'] if r['status'] == store_lib.OK else 0.0
                                        for r in draws) / len(draws),
                  label_names=_label_names(task_registry.get_task(task_name)),
                  stored_val_accuracy=best['val_accuracy'],
                  stored_test_accuracy=best['test_accuracy'],
                  val_accuracy=result.val_accuracy, test_accuracy=result.test_accuracy)
  with open(os.path.join(output, 'mnms_config.json'), 'w') as f:
    json.dump(metadata, f, indent=2)
  return metadata


def main(argv):
  del argv
  root_dir = _ROOT_DIR.value
  data_dir = cli.data_dir()
  try:
    run_dir_lib.read_info(root_dir)
    run_dir_lib.parse_config_gin(root_dir)
    cli.parse_gin_flags()
    task_registry.check_task(_TASK.value, data_dir)
    metadata = export(root_dir, _TASK.value, _OUTPUT.value, data_dir, _DEPLOY_RULE.value)
  except errors.UserError as e:
    errors.exit_with('export_best', e)
  print(f'Exported trial {metadata["trial_id"]} of {metadata["task"]} to {_OUTPUT.value} '
        f'({metadata["deploy_rule"]}: {metadata["draws"]} draws of its config, mean val '
        f'{metadata["mean_val_accuracy"]:.4f}): val {metadata["val_accuracy"]:.4f} (stored {metadata["stored_val_accuracy"]:.4f}), '
        f'test {metadata["test_accuracy"]:.4f} (stored {metadata["stored_test_accuracy"]:.4f})')
  print(json.dumps(metadata))


if __name__ == '__main__':
  flags.mark_flags_as_required(['root_dir', 'task', 'output'])
  app.run(main)
