"""The flags several binaries share, defined once, and what they resolve to.

Each `define_*` registers its flag the first time it is called in a process and hands back
the same flag after that, so several binaries can be loaded into one process (the tests
run them in-process) and `--data_dir` means the same everywhere.
"""
import os

from absl import flags
import gin

from mnms_tf import configs
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import paths

FLAGS = flags.FLAGS


def define(define_flag, name, default, help_text, **kwargs):
  """`define_flag(name, default, help_text, **kwargs)` (e.g. flags.DEFINE_string) once per
  process; later calls hand back the flag defined first."""
  if name in FLAGS:
    return flags.FlagHolder(FLAGS, FLAGS[name])
  return define_flag(name, default, help_text, **kwargs)


def define_data_dir():
  return define(flags.DEFINE_string, 'data_dir', None,
                 f'Data directory (default: ${paths.DATA_DIR_ENV} or ~/.cache/mnms_tf).')


def define_workers(default=None):
  """`default` None: one per core."""
  return define(flags.DEFINE_integer, 'workers', default or os.cpu_count(),
                 'Worker processes (or Ray actors) training children, each isolated: a crash '
                 'or a timeout is one failed trial.', lower_bound=1)


def define_backend(backends):
  """--backend (one of `backends`) and --ray_address: where children train."""
  def define_enum(name, default, help_text):
    return flags.DEFINE_enum(name, default, list(backends), help_text)
  return (define(define_enum, 'backend', backends[0], 'Where children train: worker '
                 'processes here, or Ray actors (a local Ray, or the cluster at '
                 '--ray_address).'),
          define(flags.DEFINE_string, 'ray_address', None, "With --backend=ray: a running Ray "
                 "cluster ('auto', 'ray://head:10001'); default: start a local Ray with "
                 '--workers CPUs.'))


_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER_FIGURES = os.path.join(_REPOSITORY, 'paper_figures')  # where outputs are committed
# The knowledge base the repository ships (mnms_tf/transfer/knowledge.py).
SHIPPED_KNOWLEDGE = os.path.join(_REPOSITORY, 'knowledge', 'suite')


def define_outputs():
  """--output_dir (None: each binary's own default) and --skip_search, for the binaries that
  run experiments and then write their report."""
  return (define(flags.DEFINE_string, 'output_dir', None, 'Where the figures, tables and '
                 f'report are written (default: {PAPER_FIGURES}, or as the binary says).'),
          define(flags.DEFINE_bool, 'skip_search', False, 'Only write the figures and the '
                 'report, from what the root directory holds.'))


def define_gin_flags():
  define(flags.DEFINE_multi_string, 'gin_file', [],
          'Gin config files (paths, or names under mnms_tf/gin/).')
  define(flags.DEFINE_multi_string, 'gin_bindings', [],
          'Gin bindings, e.g. "user_tasks.tasks = []".')


def parse_gin_flags():
  configs.parse(FLAGS.gin_file, FLAGS.gin_bindings)


def data_dir():
  """The data directory the flags (or the environment) name, as an absolute path."""
  return os.path.abspath(FLAGS.data_dir or paths.default_data_dir())


def define_knowledge():
  return define(flags.DEFINE_string, 'knowledge', None, 'A knowledge base directory '
                '(default: DATA_DIR/knowledge when one was grown there, else the '
                f'repository\'s, {SHIPPED_KNOWLEDGE}).')


def grown_knowledge(data_dir):
  """Where a knowledge base grows (the repository's is kept as committed)."""
  return os.path.join(data_dir, 'knowledge')


def knowledge_dir(data_dir, given=None):
  """--knowledge, else DATA_DIR/knowledge (a grown base), else the repository's."""
  if given:
    return os.path.abspath(given)
  grown = grown_knowledge(data_dir)
  return grown if os.path.exists(grown) else SHIPPED_KNOWLEDGE


# --task_file and the flags that say how to read it: parameter of FileTask -> flag.
_TASK_FILE_FLAGS = {'path': 'task_file', 'text_column': 'text_column',
                    'label_column': 'label_column', 'name': 'task_name',
                    'language': 'language', 'split_column': 'split_column'}


def define_task_file():
  """A user's CSV or TSV file as the task, without gin (docs/data.md#your-own-task)."""
  define(flags.DEFINE_string, 'task_file', None, 'A UTF-8 CSV or TSV file with a header '
         'row, one labelled text per row: your task.')
  define(flags.DEFINE_string, 'text_column', 'text', "The task file's column of texts.")
  define(flags.DEFINE_string, 'label_column', 'label', "The task file's column of labels.")
  define(flags.DEFINE_string, 'task_name', None, "The task's name (default: the file's "
         'name).')
  define(flags.DEFINE_string, 'language', 'en', "The texts' language ('en', 'es', ...).")
  define(flags.DEFINE_string, 'split_column', None, 'A column of train / validation / test '
         '(default: a seeded 80/10/10 split of the rows).')


def bind_task_file():
  """Makes --task_file a task (its gin in force); returns the task's name."""
  values = {parameter: FLAGS[flag].value for parameter, flag in _TASK_FILE_FLAGS.items()}
  text, name = task_registry.file_task_gin(
      **values, flags={p: f'--{f}' for p, f in _TASK_FILE_FLAGS.items() if p != 'name'})
  with gin.unlock_config():
    gin.parse_config(text)
  return name
