"""The model a search deploys for a task, retrained with its stored seed and saved as a
SavedModel on raw strings that answers with the task's own label names.

The deployed config (search/incumbent.py): by default that of the best validation draw, or
for a search that re-trains configs (`search.retrain_slots`) the best shrunk mean; its
best-scoring trial is the one retrained, so its accuracy matches the store's. OUTPUT gets
the SavedModel, whose `serving_default` signature maps `text` (a string batch) to
`probabilities`, `label` (the class index) and `label_name`, and OUTPUT/mnms_config.json
with the config, the label names and the accuracies:

  model = tf.saved_model.load(OUTPUT)
  model.signatures['serving_default'](text=tf.constant(['a fine film']))['label_name']
"""
import json
import os

from absl import logging
import tensorflow as tf

from mnms_tf.data import summary as data_summary
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf.search import incumbent
from mnms_tf.search import restore
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib

METADATA = 'mnms_config.json'


class _Classifier(tf.Module):
  """The exported child: strings in; class probabilities, the argmax and its name out."""

  def __init__(self, model, label_names):
    super().__init__()
    self.model = model
    self.label_names = tf.constant(label_names)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='text')])
  def classify(self, text):
    probabilities = self.model(text)
    label = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    return {'probabilities': probabilities, 'label': label,
            'label_name': tf.gather(self.label_names, label)}


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
  label_names = _label_names(task_registry.get_task(task_name))
  classifier = _Classifier(model, label_names)
  tf.saved_model.save(classifier, output, signatures={'serving_default': classifier.classify})
  metadata = dict(task=task_name, config=best['config'], config_hash=best['config_hash'],
                  seed=best['seed'], trial_id=best['id'], root_dir=os.path.abspath(root_dir),
                  deploy_rule=rule, draws=len(draws),
                  mean_val_accuracy=sum(r['val_accuracy'] if r['status'] == store_lib.OK else 0.0
                                        for r in draws) / len(draws),
                  label_names=label_names,
                  stored_val_accuracy=best['val_accuracy'],
                  stored_test_accuracy=best['test_accuracy'],
                  val_accuracy=result.val_accuracy, test_accuracy=result.test_accuracy)
  with open(os.path.join(output, METADATA), 'w') as f:
    json.dump(metadata, f, indent=2)
  return metadata
