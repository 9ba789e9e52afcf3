# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_standalone_loader: the module_utils import each other by collection name even where the collection is
not importable (ansible-rulebook's runpy, the test labs). Run in a fresh interpreter without site-packages,
from a directory outside the collection, so nothing but the loader can make the names resolve."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from ansible_collections.roamscan.qualys.plugins.module_utils import _standalone_loader

MODULE_UTILS = os.path.dirname(os.path.abspath(_standalone_loader.__file__))
EVENT_SOURCE = os.path.normpath(os.path.join(MODULE_UTILS, '..', '..', 'extensions', 'eda', 'plugins', 'event_source',
                                             'dhcp_leases.py'))


def run_isolated(code, cwd):
    """``code`` in ``python -I -S`` (no PYTHONPATH, no site-packages), from ``cwd``; its last stdout line as JSON."""
    proc = subprocess.run([sys.executable, '-I', '-S', '-c', textwrap.dedent(code)], cwd=str(cwd), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_module_utils_load_by_collection_name_without_the_collection(tmp_path):
    result = run_isolated('''
        import importlib.util, json, sys
        name = 'ansible_collections.roamscan.qualys.plugins.module_utils._spool'
        try:
            importlib.import_module(name)
            before = 'importable'
        except ImportError:
            before = 'missing'
        spec = importlib.util.spec_from_file_location('loader', %r)
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        installed = loader.install(%r)
        again = loader.install(%r)
        spool = importlib.import_module(name)
        record = sys.modules['ansible_collections.roamscan.qualys.plugins.module_utils._spool_record']
        line = record.format_spool_record('kea', 'lease', '02:77:00:00:0a:01', '10.77.0.100')
        print(json.dumps({'before': before, 'installed': installed, 'again': again, 'file': spool.__file__,
                          'mac': record.parse_spool_line(line).mac}))
    ''' % (os.path.join(MODULE_UTILS, '_standalone_loader.py'), MODULE_UTILS, MODULE_UTILS), tmp_path)
    assert result['before'] == 'missing', 'the collection was importable: this test would prove nothing'
    assert (result['installed'], result['again']) == (True, False)
    assert result['file'] == os.path.join(MODULE_UTILS, '_spool.py') and result['mac'] == '02:77:00:00:0a:01'


def test_install_leaves_an_importable_collection_alone():
    assert _standalone_loader.install(MODULE_UTILS) is False


def test_the_eda_source_run_by_path_like_ansible_rulebook_emits_a_lease(tmp_path):
    spool_dir = tmp_path / 'spool'
    spool_dir.mkdir()
    result = run_isolated('''
        import asyncio, json, os, runpy
        source = runpy.run_path(%r)
        line = 'rs1 - - 7 kea lease 02:77:00:00:0a:01 10.77.0.100 pc-1 - .\\n'

        async def run():
            queue = asyncio.Queue()
            task = asyncio.ensure_future(source['main'](queue, {'spool_dir': %r, 'interval': 0.05}))
            await asyncio.sleep(0.3)
            fd = os.open(os.path.join(%r, 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, ('\\n' + line).encode())
            os.close(fd)
            event = await asyncio.wait_for(queue.get(), 20)
            task.cancel()
            return event

        print(json.dumps(asyncio.run(run())))
    ''' % (EVENT_SOURCE, str(spool_dir), str(spool_dir)), tmp_path)
    assert {k: result['presence'][k] for k in ('server', 'kind', 'mac', 'ip', 'hostname')} == {
        'server': 'kea', 'kind': 'lease', 'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': 'pc-1'}
