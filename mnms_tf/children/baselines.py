"""Baselines for the paper's results table: models a person would build without a search.

- `hand_tuned`: one child config per task language, fixed in advance the way a practitioner
  would pick it: the task language's larger (dim-128) embedding, fine-tuned, one hidden
  layer of 100 ReLU units, proximal Adagrad at 0.1 with a little l2 (1e-4) for 1,000 steps.
  Language id of Spanish tokens gets the Spanish embedding. All gin-configurable.
- `tfidf`: scikit-learn TF-IDF (word 1-2 grams plus character 2-5 grams within words) and
  logistic regression, with C chosen on the validation split only; test is scored once.
"""
import gin
import numpy as np

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf.data.tasks import registry as task_registry

_LANGUAGE_EMBEDDINGS = {'en': 'en-dim128', 'es': 'es-dim128', 'multi': 'es-dim128'}


@gin.configurable
def hand_tuned_config(language, embeddings=None, trainable=True, nlayers=1, nnodes=100,
                      learning_rate=0.1, iterations=1000, regularization=1e-4):
  embeddings = embeddings or _LANGUAGE_EMBEDDINGS
  return search_space.SearchSpace().validate(dict(
      embedding=embeddings.get(language, embeddings['en']), trainable=trainable,
      nlayers=nlayers, nnodes=nnodes, learning_rate=learning_rate, iterations=iterations,
      regularization=regularization))


def hand_tuned(task_name, data_dir, seed=0, trainer=None):
  """{'val', 'test', 'detail'} of the hand-tuned child."""
  config = hand_tuned_config(task_registry.get_task(task_name).language)
  result = (trainer or child.ChildTrainer(data_dir=data_dir)).train(task_name, config, seed)
  if result.status != result_lib.OK:
    raise RuntimeError(f'hand-tuned child failed on {task_name}: {result.message}')
  return {'val': result.val_accuracy, 'test': result.test_accuracy,
          'detail': search_space.to_json(config)}


@gin.configurable(denylist=['task_name', 'data_dir'])
def tfidf(task_name, data_dir, cs=(0.1, 1.0, 10.0, 100.0, 1000.0)):
  """{'val', 'test', 'detail'} of TF-IDF + logistic regression, C picked on validation."""
  from sklearn.feature_extraction.text import TfidfVectorizer  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  from sklearn.pipeline import make_union  # pylint: disable=g-import-not-at-top
  train, val, test = (task_registry.load_split(task_name, s, data_dir)
                      for s in task_registry.SPLITS)
  features = make_union(
      TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
      TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5), sublinear_tf=True, min_df=2))
  train_x = features.fit_transform(train.texts)
  val_x, test_x = features.transform(val.texts), features.transform(test.texts)
  fitted = [LogisticRegression(C=c, max_iter=3000).fit(train_x, train.labels) for c in cs]
  scores = [model.score(val_x, val.labels) for model in fitted]
  best = int(np.argmax(scores))
  return {'val': scores[best], 'test': fitted[best].score(test_x, test.labels),
          'detail': f'C={cs[best]}'}
