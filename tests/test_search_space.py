"""The search space: actions <-> configs, canonical hashes, JSON, validation errors."""
import gin
import numpy as np
import pytest

from mnms_tf.children import space as search_space
from mnms_tf import configs

EXAMPLE = {'embedding': 'en-dim50', 'trainable': False, 'nlayers': 1, 'nnodes': 100,
           'learning_rate': 0.1, 'iterations': 1000, 'regularization': 0.0}


def test_default_space_matches_design():
  space = search_space.SearchSpace()
  assert space.keys == ('embedding', 'trainable', 'nlayers', 'nnodes', 'learning_rate',
                        'iterations', 'regularization')
  assert space.sizes == (4, 2, 4, 4, 5, 4, 4) and space.num_configs == 10240


def test_actions_round_trip_over_random_configs():
  space = search_space.SearchSpace()
  rng = np.random.default_rng(0)
  for _ in range(200):
    actions = [int(rng.integers(s)) for s in space.sizes]
    assert space.to_actions(space.to_config(actions)) == actions


def test_json_round_trip_and_canonical_hash():
  space = search_space.SearchSpace()
  text = search_space.to_json(EXAMPLE)
  assert search_space.from_json(text) == EXAMPLE
  shuffled = dict(reversed(list(EXAMPLE.items())), learning_rate=0.1000000000001)
  assert search_space.config_hash(space.validate(shuffled)) == search_space.config_hash(EXAMPLE)
  assert search_space.config_hash(dict(EXAMPLE, nlayers=2)) != search_space.config_hash(EXAMPLE)
  assert len({search_space.config_hash(space.to_config(a)) for a in
              [[0] * 7, [1] + [0] * 6, [0] * 6 + [1]]}) == 3


@pytest.mark.parametrize('config,message', [
    (dict(EXAMPLE, nnodes=64), r'nnodes=64 is not a choice; choices for nnodes: \[10, 50, 100, 200\]'),
    (dict(EXAMPLE, trainable=1), 'trainable=1 is not a choice'),
    ({k: v for k, v in EXAMPLE.items() if k != 'iterations'}, r"missing \['iterations'\]"),
    (dict(EXAMPLE, dropout=0.5), r"unknown \['dropout'\]"),
    ([1, 2], 'JSON object'),
])
def test_invalid_configs_get_specific_errors(config, message):
  with pytest.raises(search_space.InvalidConfigError, match=message):
    search_space.SearchSpace().validate(config)


def test_bad_actions_and_json():
  space = search_space.SearchSpace()
  with pytest.raises(search_space.InvalidConfigError, match='outside'):
    space.to_config([9, 0, 0, 0, 0, 0, 0])
  with pytest.raises(search_space.InvalidConfigError, match='Expected 7 actions'):
    space.to_config([0])
  with pytest.raises(search_space.InvalidConfigError, match='not valid JSON'):
    search_space.from_json('{"embedding": ')


def test_space_is_gin_configurable():
  gin.parse_config("""
      import mnms_tf.children.space
      SearchSpace.choices = {'nlayers': (1, 2), 'learning_rate': (0.1,)}
  """)
  space = search_space.SearchSpace()
  assert space.sizes == (2, 1)
  assert space.to_config([1, 0]) == {'nlayers': 2, 'learning_rate': 0.1}


def test_the_parameter_order_survives_a_config_string_parsed_again():
  """gin's config strings sort a dict's keys; configs.config_str restates the space's own
  order, which is the controller's action order (what a Ray node or config.gin parses)."""
  order = ('trainable', 'embedding', 'nlayers')
  bound = ("import mnms_tf.children.space\nSearchSpace.choices = {'trainable': (False, True), "
           "'embedding': ('en-dim50',), 'nlayers': (0, 1)}")
  for text in (gin.config_str, configs.config_str,
               lambda: configs.config_str(operative=True)):
    gin.clear_config()
    gin.parse_config(bound)
    assert search_space.SearchSpace().keys == order
    written = text()
    gin.clear_config()
    gin.parse_config(written)
    expected = tuple(sorted(order)) if text is gin.config_str else order
    assert search_space.SearchSpace().keys == expected
