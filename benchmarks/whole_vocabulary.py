r"""Fine-tuned children trained on each batch's rows vs the training vocabulary's, side by side.

  python benchmarks/whole_vocabulary.py [--tasks=convention_speeches,fr_amazon_reviews,...] \
      [--num_configs=6] [--seed=0]

`ChildTrainer.whole_vocabulary_share` picks, per task, how a fine-tuned child's step
trains the embedding table (mnms_tf/children/trainer.py, `_Architecture._step`): the rows of the
batch's distinct ids (`tf.unique`, gather, scatter), or every row of the training split's
vocabulary when a batch is expected to hold at least that share of it. Here every task's
fine-tuned configs (drawn with a fixed seed; the same configs and child seeds for both) are
trained both ways in one process, alternating, after a warm-up child of each: the training
seconds per way, their ratio, the task's expected share (the rule's input), and the
validation accuracy gap (the two sum in another order); a task's share is
per module, its range over the configs' modules. The ratio tells where the default
threshold should be.
"""
import time

from absl import app
from absl import flags
import numpy as np

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors

_TASKS = flags.DEFINE_list('tasks', ['convention_speeches', 'fr_amazon_reviews',
                                     'polarity_reviews', 'debate_speakers'], 'Tasks.')
_NUM_CONFIGS = flags.DEFINE_integer('num_configs', 6, 'Fine-tuned configs per task.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the config sample.')
WAYS = {'batch rows': None, 'whole vocabulary': 0.0}  # whole_vocabulary_share


def main(argv):
  del argv
  try:
    for task in _TASKS.value:
      task_registry.get_task(task)
  except errors.UserError as e:
    errors.exit_with('whole_vocabulary', e)
  space = search_space.SearchSpace()
  rng = np.random.default_rng(_SEED.value)
  configs = [dict(space.sample(rng), trainable=True) for _ in range(_NUM_CONFIGS.value)]
  trainers = {way: child.ChildTrainer(whole_vocabulary_share=share)
              for way, share in WAYS.items()}
  print(f'{"task":22} {"share":>9} {"batch rows":>11} {"whole vocab":>11} {"ratio":>6} '
        f'{"|val gap| mean/max":>19}')
  for task in _TASKS.value:
    seconds = {way: 0.0 for way in WAYS}
    accuracies = {way: [] for way in WAYS}
    for trainer in trainers.values():
      trainer.train(task, configs[0], seed=0)  # warm-up: caches and traces
    for i, config in enumerate(configs):
      for way, trainer in trainers.items():
        started = time.time()
        result = trainer.train(task, config, seed=i)
        seconds[way] += time.time() - started
        if result.status != result_lib.OK:
          errors.exit_with('whole_vocabulary', f'{task}: {result.message}')
        accuracies[way].append(result.val_accuracy)
    trainer = trainers['whole vocabulary']
    caches = [trainer._cache(task, c['embedding']) for c in configs]  # pylint: disable=protected-access
    shares = [cache.batch_vocabulary_share(trainer.batch_size) for cache in caches]
    gaps = np.abs(np.subtract(*accuracies.values()))
    rows, whole = seconds['batch rows'], seconds['whole vocabulary']
    print(f'{task:22} {min(shares):.2f}-{max(shares):.2f} {rows:10.1f}s {whole:10.1f}s '
          f'{rows / whole:6.2f} {gaps.mean():9.4f} / {gaps.max():.4f}', flush=True)


if __name__ == '__main__':
  app.run(main)
