"""The user database: its file format, atomic writes, reloads and name rules."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailserver.auth import UserDatabase, UserError
from mailserver.auth import users as users_module

LAB = [(f"group{n}_{m}", f"group{n}_{m}") for n in range(1, 13) for m in range(1, 7)]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "users.yaml"


@pytest.fixture
def db(db_path: Path) -> UserDatabase:
    return UserDatabase(db_path)


def read_doc(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


class CountingWrites(UserDatabase):
    writes = 0

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        self.writes += 1
        super()._write(users)


def test_missing_file_is_empty_database(db: UserDatabase, db_path: Path) -> None:
    assert db.names() == []
    assert not db.exists("anyone")
    assert db.password_hash("anyone") is None
    assert not db_path.exists()


def test_empty_file_is_empty_database(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_text("")
    assert UserDatabase(db_path).names() == []


def test_add_list_passwd_delete(db: UserDatabase, db_path: Path) -> None:
    db.add("Group1_1", "group1_1")
    db.add("alice", "wonderland")
    assert db.names() == ["alice", "group1_1"]
    assert db.exists("GROUP1_1")
    old = db.password_hash("group1_1")
    assert old is not None and db.verify_hash("group1_1", old)

    db.set_password("group1_1", "changed")
    new = db.password_hash("group1_1")
    assert new is not None and new != old
    assert db.verify_hash("changed", new)
    assert not db.verify_hash("group1_1", new)

    db.delete("alice")
    assert db.names() == ["group1_1"]
    assert list(read_doc(db_path)["users"]) == ["group1_1"]
    # A fresh instance sees exactly what was written.
    assert UserDatabase(db_path).names() == ["group1_1"]


def test_add_existing_needs_replace(db: UserDatabase) -> None:
    db.add("bob", "one")
    with pytest.raises(UserError, match="already exists"):
        db.add("bob", "two")
    db.add("bob", "two", replace=True)
    hashed = db.password_hash("bob")
    assert hashed is not None and db.verify_hash("two", hashed)


def test_unknown_user_errors(db: UserDatabase) -> None:
    with pytest.raises(UserError, match="no such user"):
        db.set_password("ghost", "x")
    with pytest.raises(UserError, match="no such user"):
        db.delete("ghost")


def test_empty_password_refused(db: UserDatabase) -> None:
    with pytest.raises(UserError, match="empty"):
        db.add("bob", "")


@pytest.mark.parametrize(
    "name", ["", ".hidden", "-rf", "a/b", "a b", "ü", "x" * 65, "a@b", "..", "tab\t"]
)
def test_invalid_names_rejected(db: UserDatabase, name: str) -> None:
    with pytest.raises(UserError, match="invalid user name"):
        db.add(name, "pw")


@pytest.mark.parametrize("name", ["a", "x" * 64, "group12_6", "first.last", "a-b", "_x", "9"])
def test_valid_names_accepted(db: UserDatabase, name: str) -> None:
    db.add(name, "pw")
    assert db.exists(name)


def test_hashes_are_never_plaintext(db: UserDatabase, db_path: Path) -> None:
    db.add("carol", "s3cret-Password")
    text = db_path.read_text()
    assert "s3cret-Password" not in text
    assert read_doc(db_path)["users"]["carol"]["password"].startswith("$6$")
    assert db.plain_secret("carol") is None


def test_sha512_uses_crypt_default_rounds(db: UserDatabase) -> None:
    db.add("dave", "pw")
    hashed = db.password_hash("dave")
    # 5000 rounds is implicit in the $6$ format (no "rounds=" field).
    assert hashed is not None and hashed.startswith("$6$") and "rounds=" not in hashed


def test_plain_secret_only_when_asked(db: UserDatabase, db_path: Path) -> None:
    db.add("tim", "tanstaaf", plain_secret=True)
    assert db.plain_secret("tim") == "tanstaaf"
    assert read_doc(db_path)["users"]["tim"]["secret"] == "tanstaaf"
    # None keeps the choice, with the new value.
    db.set_password("tim", "newer")
    assert db.plain_secret("tim") == "newer"
    db.set_password("tim", "newest", plain_secret=False)
    assert db.plain_secret("tim") is None
    assert "secret" not in read_doc(db_path)["users"]["tim"]


def test_plaintext_password_in_file_rejected(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_text("users:\n  bob:\n    password: hunter2\n")
    with pytest.raises(UserError, match="not a recognised password hash"):
        UserDatabase(db_path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("users: [a, b]\n", "must be a mapping"),
        ("- 1\n", "expected a mapping"),
        ("users: {bob: x}\n", "expected a mapping"),
        ("users: {'a': {password: '$6$x'\n", "not valid YAML"),
    ],
)
def test_malformed_file_reports_clearly(db_path: Path, text: str, message: str) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_text(text)
    with pytest.raises(UserError, match=message):
        UserDatabase(db_path)


def test_file_mode_is_0600(db: UserDatabase, db_path: Path) -> None:
    db.add("erin", "pw")
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    db_path.chmod(0o644)
    db.set_password("erin", "pw2")
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def test_write_is_atomic_replace(db: UserDatabase, db_path: Path) -> None:
    db.add("frank", "pw")
    before = db_path.stat().st_ino
    db.add("grace", "pw")
    # A new inode: the file was replaced by rename, never rewritten in place,
    # so a reader sees the old or the new file, never half of one.
    assert db_path.stat().st_ino != before
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["users.yaml", "users.yaml.lock"]


def test_failed_write_leaves_file_and_memory_alone(
    db: UserDatabase, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.add("heidi", "pw")
    original = db_path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(users_module.os, "replace", broken_replace)
    with pytest.raises(UserError, match="No space left"):
        db.add("ivan", "pw")
    assert db_path.read_bytes() == original
    assert db.names() == ["heidi"]
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["users.yaml", "users.yaml.lock"]


def test_unknown_keys_preserved(db_path: Path) -> None:
    seed = UserDatabase(db_path)
    seed.add("judy", "pw")
    doc = read_doc(db_path)
    doc["version"] = 1
    doc["users"]["judy"]["quota"] = 1000
    doc["users"]["judy"]["aliases"] = ["jude"]
    db_path.write_text(yaml.safe_dump(doc))
    db = UserDatabase(db_path)
    db.set_password("judy", "pw2")
    db.add("ken", "pw")
    doc = read_doc(db_path)
    assert doc["version"] == 1
    assert doc["users"]["judy"]["quota"] == 1000
    assert doc["users"]["judy"]["aliases"] == ["jude"]


def test_aliases_resolve(db_path: Path) -> None:
    UserDatabase(db_path).add("laura", "pw")
    doc = read_doc(db_path)
    doc["users"]["laura"]["aliases"] = ["Lolo", "l.smith"]
    db_path.write_text(yaml.safe_dump(doc))
    db = UserDatabase(db_path)
    assert db.resolve_local_part("LAURA") == "laura"
    assert db.resolve_local_part("lolo") == "laura"
    assert db.resolve_local_part("l.smith") == "laura"
    assert db.resolve_local_part("nobody") is None
    assert db.resolve_local_part("../etc") is None
    assert db.aliases("laura") == ["l.smith", "lolo"]
    with pytest.raises(UserError, match="alias"):
        db.add("lolo", "pw")


def test_alias_clashing_with_user_rejected(db_path: Path) -> None:
    db = UserDatabase(db_path)
    db.add("mike", "pw")
    db.add("nina", "pw")
    doc = read_doc(db_path)
    doc["users"]["mike"]["aliases"] = ["nina"]
    db_path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UserError, match="alias 'nina'"):
        UserDatabase(db_path)


def test_add_many_creates_all_with_one_write(db_path: Path) -> None:
    db = CountingWrites(db_path)
    created = db.add_many(LAB)
    assert db.writes == 1
    assert sorted(created) == sorted(name for name, _ in LAB)
    assert len(db.names()) == 72
    hashed = db.password_hash("group12_6")
    assert hashed is not None and db.verify_hash("group12_6", hashed)


def test_add_many_is_idempotent(db_path: Path) -> None:
    db = CountingWrites(db_path)
    db.add_many(LAB[:10])
    stamp = db_path.stat().st_mtime_ns, db_path.stat().st_ino
    assert db.add_many(LAB[:10]) == []
    assert db.writes == 1
    assert (db_path.stat().st_mtime_ns, db_path.stat().st_ino) == stamp
    # New ones only are reported; existing ones untouched.
    before = db.password_hash("group1_1")
    assert db.add_many(LAB[:12]) == ["group2_5", "group2_6"]
    assert db.password_hash("group1_1") == before


def test_add_many_keeps_a_password_the_user_changed(db_path: Path) -> None:
    db = CountingWrites(db_path)
    db.add("group1_1", "changed-by-hand")
    changed_hash = db.password_hash("group1_1")
    assert db.add_many(LAB[:3]) == ["group1_2", "group1_3"]
    assert db.password_hash("group1_1") == changed_hash
    assert db.writes == 2


def test_add_many_replace_resets_only_changed(db_path: Path) -> None:
    db = CountingWrites(db_path)
    db.add_many(LAB[:3])
    db.set_password("group1_2", "forgotten")
    untouched = db.password_hash("group1_1")
    assert db.add_many(LAB[:3], replace=True) == ["group1_2"]
    assert db.password_hash("group1_1") == untouched
    hashed = db.password_hash("group1_2")
    assert hashed is not None and db.verify_hash("group1_2", hashed)


def test_add_many_plain_secret_change_counts(db: UserDatabase) -> None:
    db.add_many(LAB[:2])
    assert db.add_many(LAB[:2], plain_secret=True, replace=True) == ["group1_1", "group1_2"]
    assert db.plain_secret("group1_1") == "group1_1"


def test_add_many_rejects_bad_input_before_writing(db: UserDatabase, db_path: Path) -> None:
    with pytest.raises(UserError, match="invalid user name"):
        db.add_many([("ok", "pw"), ("bad name", "pw")])
    with pytest.raises(UserError, match="twice"):
        db.add_many([("ok", "pw"), ("OK", "other")])
    assert not db_path.exists()


def test_delete_many(db_path: Path) -> None:
    db = CountingWrites(db_path)
    db.add_many(LAB[:6])
    gone = db.delete_many(["group1_1", "GROUP1_2", "ghost", "group1_1"])
    assert gone == ["group1_1", "group1_2"]
    assert db.writes == 2
    assert db.delete_many(["ghost"]) == []
    assert db.writes == 2
    assert db.names() == ["group1_3", "group1_4", "group1_5", "group1_6"]


def test_reload_if_changed_sees_external_edit(db_path: Path) -> None:
    server = UserDatabase(db_path)
    server.RELOAD_INTERVAL = 0.0
    assert not server.reload_if_changed()
    UserDatabase(db_path).add("newbie", "pw")  # the CLI, another instance
    assert server.reload_if_changed()
    assert server.exists("newbie")
    assert not server.reload_if_changed()
    UserDatabase(db_path).delete("newbie")
    assert server.reload_if_changed()
    assert not server.exists("newbie")


def test_reload_is_throttled(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = UserDatabase(db_path)
    calls = 0
    real_stat = server._stat

    def counting_stat() -> tuple[int, int, int] | None:
        nonlocal calls
        calls += 1
        return real_stat()

    monkeypatch.setattr(server, "_stat", counting_stat)
    for _ in range(100):
        server.reload_if_changed()
    assert calls <= 1
    # force bypasses the throttle
    UserDatabase(db_path).add("x", "pw")
    assert server.reload_if_changed(force=True)


def test_reload_keeps_old_data_when_file_is_broken(db_path: Path) -> None:
    server = UserDatabase(db_path)
    server.add("olivia", "pw")
    server.RELOAD_INTERVAL = 0.0
    time.sleep(0.01)
    db_path.write_text("users: [garbage\n")
    os.utime(db_path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not server.reload_if_changed()
    assert server.exists("olivia")


def test_reload_sees_file_removed(db_path: Path) -> None:
    server = UserDatabase(db_path)
    server.add("pat", "pw")
    server.RELOAD_INTERVAL = 0.0
    db_path.unlink()
    assert server.reload_if_changed()
    assert server.names() == []


def test_writer_does_not_clobber_other_process_changes(db_path: Path) -> None:
    a = UserDatabase(db_path)
    b = UserDatabase(db_path)
    a.add("quinn", "pw")
    b.add("rosa", "pw")  # b never reloaded explicitly
    assert UserDatabase(db_path).names() == ["quinn", "rosa"]


@pytest.mark.parametrize("scheme", ["nonsense", "plaintext", "hex_md5"])
def test_bad_scheme_rejected(db_path: Path, scheme: str) -> None:
    with pytest.raises(UserError, match=scheme) as info:
        UserDatabase(db_path, scheme)
    assert "sha512_crypt" in str(info.value)


def test_other_scheme_hashes_still_verify(db_path: Path) -> None:
    UserDatabase(db_path, "pbkdf2_sha256").add("sam", "pw")
    db = UserDatabase(db_path)  # configured for sha512_crypt
    hashed = db.password_hash("sam")
    assert hashed is not None and hashed.startswith("$pbkdf2-sha256$")
    assert db.verify_hash("pw", hashed)
    db.add("tess", "pw")
    assert str(db.password_hash("tess")).startswith("$6$")


def test_verify_hash_never_raises(db: UserDatabase) -> None:
    assert not db.verify_hash("pw", "not a hash")
    assert not db.verify_hash("", db.dummy_hash())
    assert not db.verify_hash("x" * 5000, db.dummy_hash())


def test_add_many_72_lab_users_is_fast(db_path: Path) -> None:
    db = UserDatabase(db_path)
    started = time.perf_counter()
    db.add_many(LAB)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"provisioning 72 users took {elapsed:.1f}s"


def _add_users(db_path: Path, prefix: str, count: int) -> None:
    db = UserDatabase(db_path)
    for number in range(count):
        db.add(f"{prefix}{number}", "secret-pw")


def test_two_processes_adding_at_once_lose_nothing(db_path: Path) -> None:
    """Two ``mailserver user add`` runs at the same moment: both users exist afterwards."""
    fork = multiprocessing.get_context("fork")
    writers = [fork.Process(target=_add_users, args=(db_path, p, 25)) for p in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    expected = sorted(f"{p}{n}" for p in ("a", "b") for n in range(25))
    assert UserDatabase(db_path).names() == expected
