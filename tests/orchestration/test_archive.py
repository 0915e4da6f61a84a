"""Archive-on-delete: folder naming, collisions, redaction, listing, lookup, retention."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest

from webapp.orchestration.archive import (
    REDACTED,
    apply_retention,
    archive_task,
    find_archived_task,
    is_secret_name,
    list_archived_tasks,
    redact_secrets,
    task_archive_logs,
)
from webapp.orchestration.errors import (
    AmbiguousArchive,
    ArchiveIncomplete,
    ArchiveNotFound,
    InvalidArchiveId,
    UnsafePath,
)
from webapp.orchestration.logs import STDERR, STDOUT, LogWriter, read_from, search, tail_lines

T0 = datetime(2026, 3, 5, 14, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "archive"


@pytest.fixture
def log_dir(tmp_path):
    folder = tmp_path / "task" / "logs"
    with LogWriter(folder / "task.log") as writer:
        writer.stdout("hello ✓\n")
        writer.stderr("boom\n")
    return folder


def snapshot(**extra):
    return {
        "task_id": "k3v8h",
        "status": "failed",
        "exit_code": 2,
        "type": "bash",
        "payload": {"command": "make   test\n  && deploy"},
        "created_at": "2026-03-05T14:00:00+00:00",
        "created_by": "ana",
        **extra,
    }


def archive(root, log_dir=None, task_id="k3v8h", name="fix-login", now=T0, **extra):
    return archive_task(
        root, "demo", task_id, name, snapshot(task_id=task_id, **extra), log_dir, now=now
    )


def test_archive_folder_snapshot_and_logs(root, log_dir):
    folder = archive(root, log_dir)
    assert folder == root / "demo" / "20260305T143000123456Z_k3v8h_fix-login"
    data = json.loads((folder / "task.json").read_text())
    assert data["task_id"] == "k3v8h" and data["project_id"] == "demo"
    assert data["archived_at"] == "2026-03-05T14:30:00.123456+00:00"
    assert not list(folder.glob("*.tmp"))
    archived_log = folder / "logs" / "task.log"
    assert archived_log.read_bytes() == (log_dir / "task.log").read_bytes()
    # Archived logs read exactly like live ones, stream labels included.
    assert [(s.stream, s.text) for s in read_from(archived_log).segments] == [
        (STDOUT, "hello ✓\n"),
        (STDERR, "boom\n"),
    ]
    assert tail_lines(archived_log, 1).text == "boom\n"
    assert search(archived_log, "HELLO")[0].line_number == 1


def test_unnamed_task_and_missing_logs(root, tmp_path):
    folder = archive(root, tmp_path / "never-created", name=None)
    assert folder.name == "20260305T143000123456Z_k3v8h"
    assert not (folder / "logs").exists()
    assert task_archive_logs(root, "demo", "k3v8h") is None


def test_same_timestamp_gets_numbered_suffixes(root):
    names = [archive(root).name for _ in range(3)]
    base = "20260305T143000123456Z_k3v8h_fix-login"
    assert names == [base, base + "_1", base + "_2"]


def test_concurrent_archivers_never_share_a_folder(root):
    folders, errors = [], []

    def run():
        try:
            folders.append(archive(root))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(folders)) == 8
    assert all((folder / "task.json").is_file() for folder in folders)


@pytest.mark.parametrize(("project", "task"), [("..", "k3v8h"), ("demo", "../x"), ("a/b", "k3v8h")])
def test_unsafe_ids_never_become_paths(root, project, task):
    with pytest.raises(UnsafePath):
        archive_task(root, project, task, None, {}, None, now=T0)
    assert not root.exists() or not any(root.rglob("task.json"))


def test_secrets_are_redacted_from_the_snapshot(root):
    folder = archive(
        root,
        web_token="w-123",
        gate_token="g-456",
        env={"GITHUB_TOKEN": "ghp_x", "DB_PASSWORD": "pw", "PATH": "/usr/bin", "apiKey": "k"},
        payload={
            "command": "echo hi",
            "env": ["AWS_SECRET_ACCESS_KEY=abc", "HOME=/root"],
            "repo": "https://bot:hunter2@git.example.com/x.git",
            "headers": {"Authorization": "Bearer zzz", "Accept": "*/*"},
        },
    )
    text = (folder / "task.json").read_text()
    for secret in ("w-123", "g-456", "ghp_x", '"pw"', '"k"', "abc", "hunter2", "zzz"):
        assert secret not in text
    data = json.loads(text)
    assert data["web_token"] == REDACTED
    assert data["env"]["PATH"] == "/usr/bin"
    assert data["payload"]["env"] == [f"AWS_SECRET_ACCESS_KEY={REDACTED}", "HOME=/root"]
    assert data["payload"]["repo"] == f"https://bot:{REDACTED}@git.example.com/x.git"
    assert data["payload"]["headers"]["Accept"] == "*/*"
    assert data["payload"]["command"] == "echo hi"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("apiKey", True),
        ("api_key", True),
        ("accesstoken", True),
        ("client-secret", True),
        ("passwd", True),
        ("monkey", False),
        ("author", False),
        ("tokenizer_model", False),
        ("command", False),
        ("exit_code", False),
    ],
)
def test_secret_name_detection(name, secret):
    assert is_secret_name(name) is secret


def test_redaction_leaves_the_input_untouched():
    original = {"token": "t", "nested": [{"password": "p"}]}
    assert redact_secrets(original) == {"token": REDACTED, "nested": [{"password": REDACTED}]}
    assert original["token"] == "t"


def test_listing_is_newest_first_with_dashboard_fields(root, log_dir):
    archive(root, log_dir, task_id="k3v8h", now=T0)
    archive(root, None, task_id="m4abc", name="second", now=T0 + timedelta(hours=1), exit_code=0)
    (root / "demo" / "20990101T000000000000Z_q1zzz").mkdir()  # in progress: no task.json
    broken = root / "demo" / "20980101T000000000000Z_q2zzz"
    broken.mkdir()
    (broken / "task.json").write_text("{not json")
    (root / "demo" / "stray-file.txt").write_text("x")
    tasks = list_archived_tasks(root, "demo")
    assert [t.task_id for t in tasks] == ["m4abc", "k3v8h"]
    newest, oldest = tasks
    assert newest.archived_at == "20260305T153000123456Z"
    assert newest.archived_datetime == T0 + timedelta(hours=1)
    assert (newest.name, newest.exit_code, newest.has_logs) == ("second", 0, False)
    assert (oldest.status, oldest.type, oldest.exit_code, oldest.has_logs) == (
        "failed",
        "bash",
        2,
        True,
    )
    assert oldest.payload_excerpt == "make test && deploy"
    assert oldest.created_by == "ana"
    assert list_archived_tasks(root, "other") == []


def test_payload_excerpt_is_short(root):
    archive(root, payload="word " * 200)
    excerpt = list_archived_tasks(root, "demo")[0].payload_excerpt
    assert len(excerpt) == 200 and excerpt.endswith("…")
    archive(root, payload={"steps": [1, 2]}, now=T0 + timedelta(seconds=1))
    assert list_archived_tasks(root, "demo")[0].payload_excerpt == '{"steps": [1, 2]}'


def test_lookup_by_folder_prefix_or_task_prefix(root, log_dir):
    first = archive(root, log_dir, task_id="k3v8h", now=T0)
    second = archive(root, None, task_id="m4abc", name="x", now=T0 + timedelta(days=1))
    assert find_archived_task(root, "demo", "20260305").archive_dir == first
    assert find_archived_task(root, "demo", "20260305t1430").archive_dir == first
    assert find_archived_task(root, "demo", "20260305T143000Z").archive_dir == first  # quirk fixed
    assert find_archived_task(root, "demo", "K3-V").archive_dir == first
    assert find_archived_task(root, "demo", "m4").archive_dir == second
    assert task_archive_logs(root, "demo", "k3") == first / "logs" / "task.log"


def test_lookup_errors_on_ambiguity_listing_matches(root):
    older = archive(root, task_id="k3v8h", now=T0)
    newer = archive(root, task_id="k3v8h", now=T0 + timedelta(minutes=5))  # ID reused
    with pytest.raises(AmbiguousArchive) as info:
        find_archived_task(root, "demo", "k3v8h")
    assert info.value.matches == [newer.name, older.name]
    assert str(info.value).startswith("Ambiguous archive 'k3v8h' — matches: " + newer.name)
    with pytest.raises(AmbiguousArchive):
        find_archived_task(root, "demo", "2026")
    # An exact folder name is never ambiguous, even when it prefixes a collision suffix.
    suffixed = archive(root, task_id="k3v8h", now=T0)
    assert suffixed.name == older.name + "_1"
    assert find_archived_task(root, "demo", older.name).archive_dir == older


def test_lookup_errors_on_no_match_and_empty_input(root):
    archive(root)
    with pytest.raises(ArchiveNotFound, match="No archived task matching '2025' in project demo"):
        find_archived_task(root, "demo", "2025")
    assert task_archive_logs(root, "demo", "zz") is None  # seed 000: None on no match
    with pytest.raises(InvalidArchiveId, match="Missing archive ID"):
        find_archived_task(root, "demo", "  ")


def test_symlinks_in_the_log_dir_are_not_followed(root, log_dir, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("private")
    (log_dir / "link.log").symlink_to(outside)
    (log_dir / "linkdir").symlink_to(tmp_path)
    folder = archive(root, log_dir)
    assert sorted(p.name for p in (folder / "logs").iterdir()) == ["task.log", "task.log.streams"]


def test_failed_log_copy_still_archives_the_snapshot(root, log_dir, monkeypatch):
    # A full disk cannot be produced here; stand in for the copy failing.
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", fail)
    with pytest.raises(ArchiveIncomplete, match="No space left") as info:
        archive(root, log_dir)
    data = json.loads((info.value.archive_dir / "task.json").read_text())
    assert data["log_copy_errors"]
    assert [t.archive_dir for t in list_archived_tasks(root, "demo")] == [info.value.archive_dir]


def make_series(root, count):
    return [archive(root, task_id="k3v8h", now=T0 + timedelta(days=i)) for i in range(count)]


def test_retention_keeps_the_newest(root):
    folders = make_series(root, 5)
    removed = apply_retention(root, "demo", keep_last=2, now=T0 + timedelta(days=5))
    assert removed == folders[2::-1]
    assert [t.archive_dir for t in list_archived_tasks(root, "demo")] == folders[:2:-1]


def test_retention_by_age(root):
    folders = make_series(root, 5)
    removed = apply_retention(root, "demo", max_age_days=2.5, now=T0 + timedelta(days=4, hours=1))
    assert sorted(removed) == folders[:2]
    assert (
        apply_retention(root, "demo", max_age_days=2.5, now=T0 + timedelta(days=4, hours=1)) == []
    )


def test_retention_spares_unrelated_and_in_progress_folders(root):
    make_series(root, 2)
    stray = root / "demo" / "notes"
    stray.mkdir()
    in_progress = root / "demo" / "20260305T143000000000Z_m4abc"
    in_progress.mkdir()
    assert len(apply_retention(root, "demo", keep_last=0, now=T0)) == 2
    assert stray.exists() and in_progress.exists()
    assert apply_retention(root, "demo", max_age_days=1, now=T0 + timedelta(days=3)) == [
        in_progress
    ]
    assert stray.exists()
    assert apply_retention(root, "demo") == []
    assert apply_retention(root, "nothing-here", keep_last=1) == []
    with pytest.raises(ValueError):
        apply_retention(root, "demo", keep_last=-1)
    with pytest.raises(ValueError):
        apply_retention(root, "demo", max_age_days=0)
