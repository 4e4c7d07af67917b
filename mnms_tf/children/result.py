"""The record one trained child leaves, shared by the trainer, the pools, the store and
the runner; it imports no TensorFlow, so readers of results need none.
"""
import dataclasses
import json
import time

from absl import logging

from mnms_tf.children import space as search_space

OK, FAILED = 'ok', 'failed'


@dataclasses.dataclass
class ChildResult:
  task: str
  config: dict
  config_hash: str
  seed: int
  status: str = OK
  message: str = ''
  val_accuracy: float = 0.0
  test_accuracy: float = 0.0
  reward: float = 0.0
  train_seconds: float = 0.0
  total_seconds: float = 0.0
  examples_per_second: float = 0.0
  num_params: int = 0

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), sort_keys=True)


def failed_result(task_name, config, seed, message, seconds):
  """The record of a child that could not be trained (reward 0), e.g. its worker died."""
  result = ChildResult(task=task_name, config=config,
                       config_hash=search_space.config_hash(config), seed=int(seed))
  return failed(result, message, time.time() - seconds)


def failed(result, error, started):
  result.status, result.message = FAILED, error
  result.reward = 0.0
  result.total_seconds = time.time() - started
  logging.warning('Child %s on %s failed: %s', result.config_hash, result.task, error)
  return result


