# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identities: what a presence source names a client by, and the key a record of it is kept under.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

An identity is ``{kind, value}`` with kind one of ``ID_KINDS``. Its *identity key* is the normalised
MAC for a MAC (so MAC records keep the keys they always had) and ``<kind>:<value>`` for the others,
the value as the rs2 spool record carries it (safe characters, or ``%`` + hex of the raw bytes).
"""

from __future__ import annotations

import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import ID_KINDS

# identities a domain controller reports at the IP of a laptop's lease: they hold that IP beside its MAC
COHOLDER_KINDS = ('ad_machine', 'ad_user')
_SAFE_VALUE = re.compile(r'^(?:[A-Za-z0-9][A-Za-z0-9._@$+=/:-]{0,127}|%(?:[0-9a-f]{2}){1,128})$')


class InvalidIdentity(ValueError):
    """An identity that is not ``{kind, value}`` of a known kind with a safe value."""


def identity_key(kind, value):
    """The identity key of ``{kind, value}`` (validated): the normalised MAC, or ``<kind>:<value>``."""
    if kind not in ID_KINDS:
        raise InvalidIdentity('unknown identity kind %r (one of %s)' % (str(kind)[:32], ', '.join(ID_KINDS)))
    if not isinstance(value, str):
        raise InvalidIdentity('identity value of kind %s is a %s, not a string' % (kind, type(value).__name__))
    if kind == 'mac':
        try:
            return normalize_mac(value)
        except InvalidAddress as exc:
            raise InvalidIdentity(str(exc)) from None
    if not _SAFE_VALUE.match(value):
        raise InvalidIdentity('identity value of kind %s is not [A-Za-z0-9][A-Za-z0-9._@$+=/:-]{0,127} or %%hex: %r'
                              % (kind, value[:64]))
    return '%s:%s' % (kind, value)


def kind_of(key):
    """The kind of an identity key."""
    kind, sep, dummy = key.partition(':')
    return kind if sep and kind in ID_KINDS else 'mac'


def identity_of(key):
    """``{kind, value}`` of an identity key."""
    kind = kind_of(key)
    return {'kind': kind, 'value': key if kind == 'mac' else key[len(kind) + 1:]}


def keeps_holder(newcomer, holder):
    """Whether ``holder`` keeps its holding of an IP that identity ``newcomer`` is seen at: only a MAC, when the
    newcomer is a domain-controller identity (a logon at the IP of a lease). Any other new holder ends it."""
    return newcomer is not None and kind_of(newcomer) in COHOLDER_KINDS and kind_of(holder) == 'mac'
