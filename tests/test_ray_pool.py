"""Children on a local Ray: faults as failed trials. (The same trials as the process pool:
test_ray_cluster.py.)"""
import gin
import pytest

from mnms_tf.children import result as result_lib
from mnms_tf.evaluation import ray_pool
from mnms_tf.children import space as search_space

pytestmark = pytest.mark.slow  # each test starts a local Ray

SHORT = {'embedding': 'en-dim50', 'trainable': False, 'nlayers': 1, 'nnodes': 10,
         'learning_rate': 0.3, 'iterations': 100, 'regularization': 0.0}
LONG_STEPS = 10**6  # a minute or more of steps; its batches, 400 MB, are built at once
TIMEOUT = 30.0  # what a fresh actor's first child (module load, trace) gets on a loaded machine


def test_faults_on_ray_are_failed_children_and_the_pool_goes_on(tiny_task):
  del tiny_task
  gin.parse_config(f"""
      import mnms_tf.children.space
      SearchSpace.choices = {{'embedding': ('en-dim50',), 'trainable': (False,),
                             'nlayers': (0, 1), 'nnodes': (10,), 'learning_rate': (0.3,),
                             'iterations': (100, {LONG_STEPS}), 'regularization': (0.0,)}}""")
  search_space.SearchSpace()  # operative: the actors' gin config has it
  pool = ray_pool.RayPool(1, None, gin_config='NoSuchThing.value = 1')
  try:
    (_, broken, _), = pool.run([('tiny', SHORT, 0)])
    assert broken.status == result_lib.FAILED and broken.reward == 0.0
    assert broken.message.startswith('Ray actor could not start: ')
    assert 'NoSuchThing' in broken.message
    pool.gin_config = gin.config_str()
    pool.child_timeout_seconds = TIMEOUT
    long_child = dict(SHORT, iterations=LONG_STEPS)
    results = {i: r for i, r, _ in pool.run([('tiny', long_child, 1),
                                             ('tiny', dict(SHORT, nlayers=0), 2)])}
    # A dead actor (as when its node is lost) fails its child only, and is dropped: the
    # next child gets a new actor, as after the timeout above.
    (_, first, name), = pool.run([('tiny', SHORT, 3)])
    actor, = pool._actors  # pylint: disable=protected-access
    pool._ray.kill(actor)  # pylint: disable=protected-access
    pool._actors = [actor]  # pylint: disable=protected-access
    (_, lost, _), = pool.run([('tiny', SHORT, 3)])
    assert first.status == result_lib.OK and name.startswith('ray-')
    assert lost.status == result_lib.FAILED
    assert lost.message.startswith('Ray actor failed while training this child (ActorDiedError')
    assert not pool._actors  # pylint: disable=protected-access
    assert results[0].status == result_lib.FAILED
    assert results[0].message == 'timed out after 30 s (RayPool.child_timeout_seconds = 30)'
    assert results[1].status == result_lib.OK, results[1].message
  finally:
    pool.close()
