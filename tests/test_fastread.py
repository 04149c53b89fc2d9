"""The two read paths of LdapDirectory against a real slapd: python-ldap (fast) and ldap3 (fallback).

Both must return identical entries for the same data and fail with the same one-line errors. These
tests need python-ldap installed and FAIL without it: the fast path is part of what ships.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from support.fastread import NAMES, directory_for, directory_ldif

from reconciler.directory.base import DirectoryError, Entry
from reconciler.directory.ldapserver import LdapDirectory
from reconciler.directory.profiles import openldap as profile

PATHS = [pytest.param(True, id="python-ldap"), pytest.param(False, id="ldap3")]

def test_python_ldap_is_installed() -> None:
    assert importlib.util.find_spec("ldap") is not None, (
        "python-ldap is not installed: pip install 'python-ldap>=3.4' (needs libldap2-dev and libsasl2-dev)")


@pytest.fixture
def loaded(slapd):
    slapd.ldapadd(directory_ldif(slapd.mailbox_base))
    # A real login gives user02 the operational pwdLastSuccess (olcLastBind).
    assert slapd.can_bind(f"uid=user02,{slapd.mailbox_base}", "secret-not-read")
    return slapd


def read(directory: LdapDirectory, attributes=profile.READ_ATTRIBUTES) -> list[Entry]:
    try:
        return sorted(directory.search(profile.OBJECT_CLASS, attributes), key=lambda e: e.dn)
    finally:
        directory.close()


@pytest.mark.parametrize("page_size", [5, 1000])
def test_both_paths_return_identical_entries(loaded, page_size: int) -> None:
    fast_dir = directory_for(loaded, fast_read=True, page_size=page_size)
    fast = read(fast_dir)
    assert fast_dir.client_name == "python-ldap" and fast_dir._sync is None  # python-ldap read everything
    slow = read(directory_for(loaded, fast_read=False, page_size=page_size))
    assert fast == slow
    assert len(fast) == len(NAMES)  # 23 entries: five pages of 5 when page_size is 5

    by_uid = {e.first("uid"): e for e in fast}
    user03 = by_uid["user03"]
    assert user03.dn == f"uid=user03,{loaded.mailbox_base}"
    assert user03.attrs["cn"] == ["Phạm Thị Dung"] == user03.attrs["displayname"]
    assert user03.attrs["sn"] == ["Phạm"]
    assert user03.attrs["maillocaladdress"] == [f"alias{k}.user03@quangngai.gov.vn" for k in range(3)]
    assert "pwdendtime" not in user03.attrs
    user22 = by_uid["user22"]
    assert user22.attrs["cn"] == ["Lê Thị Ánh Tuyết"] and user22.attrs["givenname"] == ["Tuyết"]
    assert by_uid["user04"].attrs["pwdendtime"] == ["20250515083000Z"]  # operational, asked for by name
    assert by_uid["user00"].attrs["mailroutingaddress"] == ["vanthu@quangngai.gov.vn"]
    assert "pwdlastsuccess" in by_uid["user02"].attrs and "pwdlastsuccess" not in by_uid["user03"].attrs
    assert all("userpassword" not in e.attrs for e in fast)  # only what was asked for
    assert all(name == name.lower() for e in fast for name in e.attrs)
    assert all(isinstance(v, str) for e in fast for values in e.attrs.values() for v in values)

    # And the profile reads the same accounts from either.
    assert profile.accounts(fast) == profile.accounts(slow)


@pytest.mark.parametrize("fast_read", PATHS)
def test_empty_base_yields_nothing(slapd, fast_read: bool) -> None:
    assert read(directory_for(slapd, fast_read=fast_read, page_size=5)) == []


@pytest.mark.parametrize("fast_read", PATHS)
def test_a_partly_consumed_search_can_be_closed(loaded, fast_read: bool) -> None:
    directory = directory_for(loaded, fast_read=fast_read, page_size=5)
    results = directory.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES)
    first = [next(results) for _ in range(7)]  # into the second page
    results.close()
    directory.close()
    assert len({e.dn for e in first}) == 7


@pytest.mark.parametrize("fast_read", PATHS)
def test_wrong_password_is_one_clear_line(loaded, fast_read: bool) -> None:
    with pytest.raises(DirectoryError) as caught:
        read(directory_for(loaded, fast_read=fast_read, password="wrong"))
    message = str(caught.value)
    assert "invalid credentials" in message and loaded.admin_dn in message and "\n" not in message


@pytest.mark.parametrize("fast_read", PATHS)
def test_missing_base_dn_is_one_clear_line(loaded, fast_read: bool) -> None:
    base = f"ou=nowhere,{loaded.suffix}"
    with pytest.raises(DirectoryError) as caught:
        read(directory_for(loaded, fast_read=fast_read, base_dn=base))
    assert str(caught.value) == f"ldap://127.0.0.1:{loaded.port}: base DN {base} does not exist"


@pytest.mark.parametrize("fast_read", PATHS)
def test_server_down_is_one_clear_line(slapd, fast_read: bool) -> None:
    directory = directory_for(slapd, fast_read=fast_read)
    slapd.stop()
    with pytest.raises(DirectoryError) as caught:
        read(directory)
    assert str(caught.value) == (f"ldap://127.0.0.1:{slapd.port}: cannot connect: connection refused "
                                 "(is the server running and the url right?)")


def test_both_paths_give_the_same_errors(loaded) -> None:
    def error(**kwargs) -> str:
        with pytest.raises(DirectoryError) as caught:
            read(directory_for(loaded, **kwargs))
        return str(caught.value)

    for kwargs in ({"password": "wrong"}, {"base_dn": f"ou=nowhere,{loaded.suffix}"}):
        assert error(fast_read=True, **kwargs) == error(fast_read=False, **kwargs)


@pytest.fixture
def tls_slapd(tmp_path_factory: pytest.TempPathFactory):
    from support.slapd import start_slapd

    server = start_slapd(tmp_path_factory.mktemp("slapd") / "server", tls=True)
    server.ldapadd(directory_ldif(server.mailbox_base))
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_both_paths_read_over_tls(tls_slapd, scheme: str) -> None:
    url = tls_slapd.url if scheme == "starttls" else tls_slapd.ldaps_url
    fast = read(directory_for(tls_slapd, fast_read=True, url=url, ca_file=tls_slapd.ca_file, page_size=7))
    slow = read(directory_for(tls_slapd, fast_read=False, url=url, ca_file=tls_slapd.ca_file, page_size=7))
    assert fast == slow and len(fast) == len(NAMES)


@pytest.mark.parametrize("fast_read", PATHS)
def test_untrusted_certificate_is_refused(tls_slapd, fast_read: bool, tmp_path: Path) -> None:
    # A CA that did not sign the server's certificate: the system store does not know the test CA either.
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_text(Path("/etc/ssl/certs/ca-certificates.crt").read_text().split("-----END CERTIFICATE-----")[0]
                        + "-----END CERTIFICATE-----\n")
    for url in (tls_slapd.url, tls_slapd.ldaps_url):
        with pytest.raises(DirectoryError) as caught:
            read(directory_for(tls_slapd, fast_read=fast_read, url=url, ca_file=str(other_ca)))
        message = str(caught.value)
        assert "not trusted" in message and "\n" not in message, message


# -- writes --------------------------------------------------------------------------------------------


def _person(base: str, uid: str, name: str, **extra: list[str]):
    from reconciler.directory.base import Add

    return Add(f"uid={uid},{base}", {
        "objectClass": list(profile.OBJECT_CLASSES), "uid": [uid], "mail": [f"{uid}@quangngai.gov.vn"],
        "cn": [name], "displayName": [name], "sn": [name.split()[0]], "givenName": [name.split()[-1]], **extra})


def _seed(base: str) -> list:
    """What is already in the directory before the batch under test."""
    ops = [_person(base, f"bulk{n:03d}", NAMES[n % len(NAMES)], ou=[f"unit-{n % 7}"]) for n in range(150)]
    ops.append(_person(base, "w1", "Đặng Ngọc Dũng",
                       mailLocalAddress=["dung.dang@quangngai.gov.vn", "dungdn2@quangngai.gov.vn"],
                       pwdEndTime=["20250101000000Z"]))
    return ops


def _operations(base: str) -> list:
    """One batch as apply sends it: every DN at most once, because pipelined requests on one
    connection may be carried out in any order (slapd runs them on several threads)."""
    from reconciler.directory.base import Delete, Modify

    ops = [_person(base, f"bulk{n:03d}", NAMES[n % len(NAMES)]) for n in range(150, 200)]
    ops[20:20] = [
        _person(base, "w1", "Đặng Ngọc Dũng"),                              # entryAlreadyExists
        _person(base, "w2", "Lê Thị Ánh Tuyết", bogusAttribute=["x"]),      # undefinedAttributeType
        Modify(f"uid=bulk001,{base}", {"displayName": ["Bùi Thị Lan (Phòng Tổ chức)"], "mailLocalAddress": [],
                                       "pwdEndTime": ["20260101000000Z"], "ou": ["unit-x", "unit-y"]}),
        Modify(f"uid=nobody,{base}", {"cn": ["Ai đó"]}),                     # noSuchObject
        Delete(f"uid=bulk002,{base}"),
        Delete(f"uid=nobody2,{base}"),                                      # noSuchObject
    ]
    return ops


@pytest.fixture
def two_servers(slapd, tmp_path_factory: pytest.TempPathFactory):
    from support.slapd import start_slapd

    other = start_slapd(tmp_path_factory.mktemp("slapd") / "server")
    yield slapd, other
    other.stop()


def test_both_write_paths_have_the_same_outcomes_and_results(two_servers, monkeypatch) -> None:
    from reconciler.directory import ldapserver

    monkeypatch.setattr(ldapserver, "PIPELINE_WINDOW", 16)  # 56 operations: several windows
    outcomes, entries = {}, {}
    for server, fast in zip(two_servers, (True, False), strict=True):
        directory = directory_for(server, fast_read=fast)
        assert directory.fast_write is fast
        done: list[tuple[int, str | None]] = []
        directory.write(_seed(server.mailbox_base), lambda _i, e: None)
        directory.write(_operations(server.mailbox_base), lambda i, e, done=done: done.append((i, e)))
        directory.close()
        outcomes[fast] = done
        entries[fast] = read(directory_for(server, fast_read=True),
                             attributes=(*profile.READ_ATTRIBUTES, "objectClass"))

    ops = _operations(two_servers[0].mailbox_base)
    assert [i for i, _ in outcomes[True]] == list(range(len(ops)))  # each once, in submission order
    assert outcomes[True] == outcomes[False]
    base = two_servers[0].mailbox_base
    assert [(ops[i].dn, e) for i, e in outcomes[True] if e] == [
        (f"uid=w1,{base}", f"uid=w1,{base}: entryAlreadyExists"),
        (f"uid=w2,{base}", f"uid=w2,{base}: undefinedAttributeType: bogusAttribute: attribute type undefined"),
        (f"uid=nobody,{base}", f"uid=nobody,{base}: noSuchObject"),
        (f"uid=nobody2,{base}", f"uid=nobody2,{base}: noSuchObject"),
    ]
    assert entries[True] == entries[False]
    by_uid = {e.first("uid"): e for e in entries[True]}
    assert len(by_uid) == 200  # 150 seeded + w1 + 50 new - bulk002
    assert by_uid["w1"].attrs["maillocaladdress"] == ["dung.dang@quangngai.gov.vn", "dungdn2@quangngai.gov.vn"]
    assert by_uid["w1"].attrs["pwdendtime"] == ["20250101000000Z"]
    assert by_uid["bulk001"].attrs["displayname"] == ["Bùi Thị Lan (Phòng Tổ chức)"]
    assert by_uid["bulk001"].attrs["ou"] == ["unit-x", "unit-y"]
    assert "maillocaladdress" not in by_uid["bulk001"].attrs and "bulk002" not in by_uid


@pytest.mark.parametrize("fast_write", PATHS)
def test_write_to_a_stopped_server_is_one_clear_line(slapd, fast_write: bool) -> None:
    from reconciler.directory.base import Delete

    directory = directory_for(slapd, fast_read=fast_write)
    slapd.stop()
    with pytest.raises(DirectoryError) as caught:
        directory.write([Delete(f"uid=x,{slapd.mailbox_base}")], lambda _i, _e: None)
    assert str(caught.value) == (f"ldap://127.0.0.1:{slapd.port}: cannot connect: connection refused "
                                 "(is the server running and the url right?)")


@pytest.mark.parametrize("fast_write", PATHS)
def test_write_consumes_a_generator_as_the_window_has_room(slapd, fast_write: bool, monkeypatch) -> None:
    from reconciler.directory import ldapserver
    from reconciler.directory.base import Delete

    monkeypatch.setattr(ldapserver, "PIPELINE_WINDOW", 8)
    pulled: list[int] = []
    done: list[tuple[int, int, str | None]] = []

    def operations():
        for n in range(30):
            pulled.append(n)
            yield Delete(f"uid=nobody{n},{slapd.mailbox_base}")

    directory = directory_for(slapd, fast_read=fast_write)
    directory.write(operations(), lambda i, e: done.append((i, len(pulled), e)))
    assert [i for i, _, _ in done] == list(range(30))
    assert done[0][1] == 8  # the first outcome came in while 22 operations were not even built yet
    assert all(e == f"uid=nobody{i},{slapd.mailbox_base}: noSuchObject" for i, _, e in done)

    slapd.stop()  # nothing to write: no connection is even attempted
    directory.write(iter(()), lambda _i, _e: pytest.fail("nothing was written"))


def test_the_ldap3_write_path_leaves_no_thread_behind(slapd) -> None:
    """ldap3's ASYNC receiver thread must end with its connection: one that spun on a closed socket
    once slowed the whole test suite to a crawl."""
    import threading
    import time

    directory = directory_for(slapd, fast_read=False)
    assert directory.fast_write is False
    outcomes: list[str | None] = []
    directory.write(_seed(slapd.mailbox_base)[:20], lambda _i, e: outcomes.append(e))
    directory.close()
    assert outcomes == [None] * 20
    deadline = time.monotonic() + 5
    while any("Receiver" in type(t).__name__ for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if "Receiver" in type(t).__name__]
