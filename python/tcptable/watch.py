"""``tcptable --watch``: one line per change of the table, as each poll sees it.

Text lines are ``+`` (opened), ``-`` (closed) or ``~`` (state changed), the
time of the poll that saw it (ISO 8601, UTC), and the row as the table shows
it (a changed row's state as ``OLD -> NEW``); ``--json`` gives one object per
event: ``"event"`` (``opened``, ``closed``, ``changed``), ``"time"``, the
row's keys, and for a change ``"old_state"``.
"""

from __future__ import annotations

import collections
import datetime
import json
import time
from collections.abc import Iterable, Iterator

from . import Watcher, namespaces
from .format import Row, row_cells, row_dict

SIGNS = {"opened": "+", "closed": "-", "changed": "~"}


class _Target:
    """One namespace's Watchers, one per (protocol, family) table.  With
    --all-namespaces it also keeps the rows it reported live, to report them
    closed when the namespace goes away."""

    def __init__(
        self,
        path: str | None,
        inode: int | None,
        tables: Iterable[tuple[int, int]],
        filters: dict,
    ) -> None:
        self.path, self.inode = path, inode
        self.watchers = [
            Watcher(family, protocol=protocol, netns=path, **filters) for protocol, family in tables
        ]
        self.live: collections.Counter[Row] = collections.Counter()


def _event(
    kind: str, row: Row, old: Row | None, when: str, target: _Target, shown: bool, as_json: bool
) -> str:
    if as_json:
        extra = {"netns": target.path, "netns_inode": target.inode} if shown else {}
        changed = {"old_state": old.state.name} if old is not None else {}
        return json.dumps({"event": kind, "time": when, **row_dict(row), **changed, **extra})
    cells = list(row_cells(row))
    if old is not None:
        cells[-1] = f"{old.state.name} -> {cells[-1]}"
    return "  ".join([f"{SIGNS[kind]} {when}", *([target.path] if shown else []), *cells])


def _changes(target: _Target, shown: bool, as_json: bool) -> Iterator[str]:
    """The events of one poll of each of target's Watchers."""
    for watcher in target.watchers:
        changes = watcher.poll()
        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        for row in changes.closed:
            yield _event("closed", row, None, when, target, shown, as_json)
        for old, new in changes.changed:
            yield _event("changed", new, old, when, target, shown, as_json)
        for row in changes.opened:
            yield _event("opened", row, None, when, target, shown, as_json)
        if shown:
            target.live.subtract(changes.closed)
            target.live.subtract(old for old, _ in changes.changed)
            target.live.update(new for _, new in changes.changed)
            target.live.update(changes.opened)


def _follow(
    targets: dict, tables: Iterable[tuple[int, int]], filters: dict, as_json: bool
) -> Iterator[str]:
    """Keeps one _Target per namespace listed now: a new namespace's rows come
    as opened, a vanished one's (no process, no name left) as closed."""
    listed = {ns.inode: ns.path for ns in namespaces()}
    for inode in [i for i in targets if i not in listed]:
        gone = targets.pop(inode)
        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        for row in gone.live.elements():
            yield _event("closed", row, None, when, gone, True, as_json)
    for inode, path in listed.items():
        if inode not in targets:
            try:
                targets[inode] = _Target(path, inode, tables, filters)
            except (FileNotFoundError, ProcessLookupError):
                continue  # gone between the listing and the open


def lines(
    tables: Iterable[tuple[int, int]],
    filters: dict,
    *,
    netns: str | None,
    all_namespaces: bool,
    interval: float,
    as_json: bool,
) -> Iterator[str]:
    """Endless: the text of each round of polls (one line per event), every
    `interval` seconds.  Opening the namespace and the first poll happen at
    the first next(), so bad arguments raise there.  `tables`: the
    (protocol, family) pairs to watch."""
    tables = list(tables)
    targets: dict[int | None, _Target] = {}
    if not all_namespaces:
        targets[None] = _Target(netns, None, tables, filters)
    deadline = time.monotonic()
    while True:
        out: list[str] = []
        if all_namespaces:
            out += _follow(targets, tables, filters, as_json)
        for target in list(targets.values()):
            out += _changes(target, all_namespaces, as_json)
        yield "".join(line + "\n" for line in out)
        deadline += interval
        time.sleep(max(0.0, deadline - time.monotonic()))
