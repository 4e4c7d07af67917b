r"""Builds the tasks and embedding modules, then prints what was built.

  python -m mnms_tf.bin.build_data [--data_dir=DIR] [--tasks=a,b|suite] [--modules=x,y] [--json]

Idempotent: prepared datasets, built modules and probe results are reused, so a second
run only reads them. The default data_dir is $MNMS_DATA_DIR or ~/.cache/mnms_tf.
"""
import json
import time

from absl import app
from absl import flags
from absl import logging

from mnms_tf import cli
from mnms_tf.data.embeddings import registry as module_registry
from mnms_tf.data import summary as data_summary
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors
from mnms_tf import paths

_DATA_DIR = cli.define_data_dir()
_TASKS = cli.define(flags.DEFINE_list, 'tasks', list(task_registry.OFFLINE_TASKS), 'Tasks to build '
                           '(`suite`: the task suite, docs/data.md).')
_MODULES = flags.DEFINE_list('modules', list(module_registry.OFFLINE_HANDLES),
                             'Embedding module slots to build (offline) or fetch (TF-Hub).')
_PROBES = flags.DEFINE_bool('probes', True, 'Report OOV rates and linear-probe accuracies.')
_JSON = cli.define(flags.DEFINE_bool, 'json', False,
                   'Also print the summary as JSON on the last line.')
cli.define_gin_flags()


def build(data_dir, task_names, module_names, probes=True):
  """Builds what is missing and returns the summary dict."""
  with paths.build_lock(data_dir):
    return _build(data_dir, task_names, module_names, probes)


def _build(data_dir, task_names, module_names, probes):
  summary = {'data_dir': data_dir, 'tasks': {}, 'modules': {}}
  for name in task_names:
    started = time.time()
    logging.info('Task %s: preparing', name)
    task_registry.get_task(name).prepare(data_dir)
    summary['tasks'][name] = data_summary.task_summary(name, data_dir)
    logging.info('Task %s: ready in %.1fs: %s', name, time.time() - started,
                 summary['tasks'][name]['splits'])
  for name in module_names:
    started = time.time()
    handle = module_registry.handle_for(name, data_dir)
    local = handle == module_registry.OFFLINE_HANDLES.get(name, '').format(data_dir=data_dir)
    logging.info('Module %s: %s', name, 'building' if local else f'loading {handle}')
    info = module_registry.build_offline_module(name, data_dir) if local else {}
    module = module_registry.load(name, data_dir)
    entry = {'handle': handle, 'dim': info.get('dim'), 'vocab_size': info.get('vocab_size'),
             'checksum': data_summary.module_checksum(module_registry.resolve(handle)),
             'oov_rate': {}, 'probe_accuracy': {}}
    for task_name in task_names if probes else ():
      stats = data_summary.module_task_stats(name, module, handle if local else None, task_name,
                                             data_dir)
      entry['oov_rate'][task_name] = stats['oov_rate']
      entry['probe_accuracy'][task_name] = stats['probe_accuracy']
    if entry['dim'] is None:
      entry['dim'] = int(module(['a']).shape[-1])
    summary['modules'][name] = entry
    logging.info('Module %s: ready in %.1fs', name, time.time() - started)
  return summary


def format_summary(summary):
  lines = [f'data_dir: {summary["data_dir"]}', '',
           f'{"task":20} {"train":>7} {"valid":>7} {"test":>7} {"classes":>7}  '
           f'{"class counts (train/valid/test)":34} skipped garbled/by rule']
  for name, task in summary['tasks'].items():
    s = task['splits']
    counts = ' / '.join(':'.join(map(str, c)) for c in task['class_counts'].values())
    lines.append(f'{name:20} {s["train"]:7d} {s["validation"]:7d} {s["test"]:7d} '
                 f'{task["num_classes"]:7d}  {counts:34} '
                 f'{task["skipped_garbled"]}/{task["skipped_by_rule"]}')
  task_names = list(summary['tasks'])
  lines += ['', f'{"module":10} {"dim":>4} {"vocab":>7}  ' +
            ' '.join(f'{t[:16]:>16}' for t in task_names) + '   (OOV rate / probe accuracy)']
  for name, module in summary['modules'].items():
    cells = []
    for t in task_names:
      oov, probe = module['oov_rate'].get(t), module['probe_accuracy'].get(t)
      cells.append(f'{"-" if oov is None else f"{oov:.3f}":>7} / '
                   f'{"-" if probe is None else f"{probe:.3f}":>6}')
    lines.append(f'{name:10} {module["dim"]:4d} {module["vocab_size"] or 0:7d}  ' + ' '.join(cells))
  lines += ['', 'checksums (contents; run.json records them):']
  lines += [f'  {name:20} ' + '  '.join(f'{s} {c}' for s, c in task['checksums'].items())
            for name, task in summary['tasks'].items()]
  lines += [f'  {name:20} {module["checksum"]}' for name, module in summary['modules'].items()]
  return '\n'.join(lines)


def main(argv):
  del argv
  data_dir = cli.data_dir()
  started = time.time()
  try:
    cli.parse_gin_flags()
    tasks = [t for name in _TASKS.value
             for t in (task_registry.SUITE_TASKS if name == 'suite' else [name])]
    summary = build(data_dir, tasks, _MODULES.value, probes=_PROBES.value)
  except errors.UserError as e:
    errors.exit_with('build_data', e)
  print(format_summary(summary))
  print(f'\nbuild_data finished in {time.time() - started:.1f}s')
  if _JSON.value:
    print(json.dumps({k: summary[k] for k in ('tasks', 'modules')}, sort_keys=True))


if __name__ == '__main__':
  app.run(main)
