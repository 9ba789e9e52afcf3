# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation users read cannot drift from the tree: docs/variables.md against every
``roamscan_*`` variable of playbooks/ and plugins/, the README's component table against
plugins/, playbooks/, roles/ and extensions/."""
from __future__ import annotations

import re

import yaml

from roamscan_fixtures import COLLECTION_ROOT

VARIABLE = re.compile(r'\broamscan_[a-z0-9_]*[a-z0-9]\b')
# Libraries, not plugins: the README names their folders.
LIBRARY_DIRS = ('module_utils', 'plugin_utils')


def referenced_variables(*folders):
    """Every roamscan_* name in the playbooks' and plugins' sources (templates, docs, examples)."""
    found = set()
    for folder in folders:
        for path in (COLLECTION_ROOT / folder).rglob('*'):
            if path.is_file() and path.suffix in ('.py', '.yml', '.yaml', '.j2'):
                found |= set(VARIABLE.findall(path.read_text(encoding='utf-8')))
    return found


def defined_by_playbooks():
    """Names the playbooks give values to themselves: registered results, set_fact and set_stats keys, vars, add_host groups."""
    defined = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get('register'), str):
                defined.add(node['register'])
            for key in ('vars',):
                if isinstance(node.get(key), dict):
                    defined.update(node[key])
            for module in ('ansible.builtin.set_fact', 'set_fact'):
                if isinstance(node.get(module), dict):
                    defined.update(node[module])
            for module in ('ansible.builtin.add_host', 'add_host'):
                if isinstance(node.get(module), dict) and isinstance(node[module].get('groups'), str):
                    defined.add(node[module]['groups'])
            for module in ('ansible.builtin.set_stats', 'set_stats'):
                if isinstance(node.get(module), dict):
                    defined.update(node[module].get('data') or {})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (COLLECTION_ROOT / 'playbooks').glob('*.yml'):
        walk(yaml.safe_load(path.read_text(encoding='utf-8')))
    return {name for name in defined if name.startswith('roamscan_')}


def documented_variables():
    """{section heading: [variable]} from the first column of each table in docs/variables.md."""
    sections, current = {}, None
    for line in (COLLECTION_ROOT / 'docs' / 'variables.md').read_text(encoding='utf-8').splitlines():
        if line.startswith('## '):
            current = line[3:].strip()
            sections[current] = []
        first = re.match(r'\| `(roamscan_[a-z0-9_]+)` \|', line)
        if first and current:
            sections[current].append(first.group(1))
    return sections


def test_every_variable_of_the_playbooks_and_plugins_is_documented_and_every_documented_one_exists():
    sections = documented_variables()
    documented = [name for names in sections.values() for name in names]
    assert len(documented) == len(set(documented)), 'documented twice: %s' % sorted(
        name for name in documented if documented.count(name) > 1)
    in_code = referenced_variables('playbooks', 'plugins')
    assert in_code - set(documented) == set(), 'not in docs/variables.md'
    # The EDA rulebook passes some of the same settings; anything else documented must exist.
    assert set(documented) - in_code - referenced_variables('extensions') == set(), 'documented but not in the code'


def test_settings_and_reserved_names_are_in_the_right_section():
    sections = documented_variables()
    defined = defined_by_playbooks()
    assert set(sections['Settings']) & defined == set(), 'the playbooks overwrite these "settings"'
    assert set(sections['Reserved names']) | set(sections['Results']) <= defined, 'not set by the playbooks'
    assert defined - set(sections['Reserved names']) - set(sections['Results']) == set(), 'set by a playbook, not reserved'


def component_table():
    readme = (COLLECTION_ROOT / 'README.md').read_text(encoding='utf-8')
    section = readme[readme.index('## What is in the collection'):]
    return section[:section.index('\n## ', 1)]


def named(table, name):
    """``name`` appears in the table as a code span, alone or as roamscan.qualys.<name>."""
    return re.search(r'`(roamscan\.qualys\.)?%s`' % re.escape(name), table) is not None


def test_readme_component_table_lists_every_plugin_playbook_role_and_extension():
    table = component_table()
    missing = []
    for path in sorted((COLLECTION_ROOT / 'plugins').glob('*/*.py')):
        kind = path.parent.name
        if kind in LIBRARY_DIRS:
            if '`plugins/%s/`' % kind not in table:
                missing.append('plugins/%s/' % kind)
        elif path.stem != '__init__' and not named(table, path.stem):
            missing.append(str(path.relative_to(COLLECTION_ROOT)))
    missing += [str(path.relative_to(COLLECTION_ROOT)) for path in sorted((COLLECTION_ROOT / 'playbooks').glob('*.yml'))
                if not named(table, path.stem)]
    missing += ['roles/%s' % path.name for path in sorted((COLLECTION_ROOT / 'roles').iterdir())
                if path.is_dir() and not named(table, path.name)]
    missing += ['extensions/%s/' % path.name for path in sorted((COLLECTION_ROOT / 'extensions').iterdir())
                if path.is_dir() and '`extensions/%s/`' % path.name not in table]
    assert missing == [], 'the README component table does not mention these'
