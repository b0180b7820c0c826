"""Child processes that hold sockets, for owner tests.

Each holder runs in the namespace of the thread that starts it, switches to
its uid (POSIX) before creating anything, makes a listener and one connected pair,
optionally forks (so two processes hold the same sockets), reports what it
holds (its pid, the fork's pid, each socket's endpoints and fstat() inode)
and keeps everything open until its stdin closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

from oracles import Row, from_tcptable, socket_row

HOLDER = textwrap.dedent(
    """
    import encodings.idna, json, os, socket, sys  # all imports before dropping root
    uid, family, addr, fork = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    if uid:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    lst = socket.socket(family, socket.SOCK_STREAM)
    lst.bind((addr, 0))
    lst.listen(8)
    client = socket.create_connection(lst.getsockname()[:2])
    server, _ = lst.accept()
    forked = 0
    if fork:
        forked = os.fork()
        if forked == 0:
            sys.stdin.read()
            os._exit(0)
    posix = os.name == "posix"  # Windows has no uids, and fstat() takes no socket
    def held(state, s, peer):
        return {"state": state, "local": s.getsockname(), "remote": peer,
                "inode": os.fstat(s.fileno()).st_ino if posix else None}
    report = {"pid": os.getpid(), "forked": forked, "uid": os.getuid() if posix else None,
              "sockets": [
        held("LISTEN", lst, None),
        held("ESTABLISHED", client, client.getpeername()),
        held("ESTABLISHED", server, server.getpeername()),
    ]}
    print(json.dumps(report), flush=True)
    sys.stdin.read()
    if forked:
        os.waitpid(forked, 0)
    """
)


@dataclass
class Held:
    row: Row
    pid: int  # the lowest pid holding it
    uid: int | None  # None on Windows
    inode: int | None


class Holder:
    def __init__(self, uid: int, family: int, addr: str, fork: bool = False) -> None:
        self.family = family
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(uid), str(int(family)), addr, str(int(fork))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        report = json.loads(self.proc.stdout.readline())
        self.pid, self.forked, self.uid = report["pid"], report["forked"], report["uid"]
        holders = [self.pid] + ([self.forked] if self.forked else [])
        self.held = [
            Held(
                socket_row(
                    family, s["state"], tuple(s["local"]), s["remote"] and tuple(s["remote"])
                ),
                min(holders),
                self.uid,
                s["inode"],
            )
            for s in report["sockets"]
        ]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def owner_view(rows) -> dict[Row, list[tuple]]:
    """tcptable rows by their plain Row: (pid, uid, inode) of each."""
    view: dict[Row, list[tuple]] = {}
    for r in rows:
        view.setdefault(from_tcptable(r), []).append((r.pid, r.uid, r.inode))
    return view
