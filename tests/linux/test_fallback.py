"""The /proc fallback, reached for real: netlink sockets refused in the calling
thread by a seccomp filter, as sandboxes do."""

import errno
import os
import socket

import pytest
import seccomp
import tcptable
from oracles import proc_rows, table, without_scopes
from population import expected

FALLBACK_ERRNOS = [
    errno.EPROTONOSUPPORT,
    errno.EAFNOSUPPORT,
    errno.ENOENT,
    errno.EPERM,
    errno.EACCES,
]


@pytest.fixture(autouse=True)
def _x86_64():
    if not seccomp.supported():
        pytest.skip("Linux x86_64 only: the seccomp filter of these tests")


@pytest.mark.parametrize("code", FALLBACK_ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("family,name", [(socket.AF_INET, "tcp4"), (socket.AF_INET6, "tcp6")])
def test_unavailable_netlink_falls_back_to_proc(population, monkeypatch, code, family, name):
    monkeypatch.delenv("TCPTABLE_BACKEND", raising=False)
    got = seccomp.call_without_netlink(code, table, tcptable, family)
    assert got == without_scopes(expected(population, name)) == proc_rows(family)
    counts = seccomp.call_without_netlink(code, tcptable.counts, family)
    assert sum(counts.values()) == sum(got.values())


def test_the_filter_really_refuses_netlink(population):
    with pytest.raises(OSError) as info:
        seccomp.call_without_netlink(
            errno.EAFNOSUPPORT, socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 4
        )
    assert info.value.errno == errno.EAFNOSUPPORT


@pytest.mark.parametrize("code", FALLBACK_ERRNOS, ids=errno.errorcode.get)
def test_netlink_backend_forbids_the_fallback(population, monkeypatch, code):
    monkeypatch.setenv("TCPTABLE_BACKEND", "netlink")
    with pytest.raises(OSError) as info:
        seccomp.call_without_netlink(code, tcptable.tcp6)
    assert info.value.errno == code
    assert info.value.strerror == f"netlink socket() failed: {os.strerror(code)}"


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENOBUFS, errno.EINVAL])
def test_other_netlink_errors_are_raised_not_hidden(population, monkeypatch, code):
    monkeypatch.delenv("TCPTABLE_BACKEND", raising=False)
    with pytest.raises(OSError) as info:
        seccomp.call_without_netlink(code, tcptable.tcp4)
    assert info.value.errno == code
    assert "netlink socket()" in str(info.value)
