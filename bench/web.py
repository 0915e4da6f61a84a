"""Web benchmark: the dashboard under gunicorn with 1,000,000 tasks and 100,000 archived.

Seeds a fresh data folder (real tasks run by a real worker, one of them deleted to the archive,
their logs indexed by the worker's indexer; then 1,000,000 task records with their runs and
100,000 archive index entries written with bulk inserts, not the lifecycle API; the counts and
full-text indexes are rebuilt once at the end), starts gunicorn on 127.0.0.1 the way
``webapp serve`` does (one gthread worker, no task worker, no access log), signs in, and times
sequential requests, each on a fresh TCP connection, interleaved round by round so load noise
hits every endpoint alike.

Each endpoint's median and p95 are compared with a static file of the same server in the same
run (``/static/app.css``). Targets at 1M tasks / 100k archived: every list page (first,
filtered, last), the archive (first and last page) and search (the list's ``q=`` and the
search page over every log) <= 4x static; task page <= 2x; unchanged polls <= 1.5x.

Usage: .venv/bin/python bench/web.py [--tasks N] [--archived N] [--rounds N] [--warmup N] [--keep]
The last line is always
`ratios: list=<x> task=<y> poll=<z> archive=<a> search=<s> graph=<g>` (graph: the workflow page
at 2,000 members, ``na`` until it is measured here).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from webapp import create_app, orchestration
from webapp.accounts import users
from webapp.cli.serve import gunicorn_argv
from webapp.orchestration import search
from webapp.orchestration.identity import generate_task_id
from webapp.store import records
from webapp.store.db import immediate, open_database
from webapp.store.records_schema import _INSERT_TRIGGER
from webapp.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_graphs  # noqa: E402  (bench/ is not a package)

PROJECT = "bench"
USER, PASSWORD = "bench", "bench-password-1"
TYPES = ("bash", "bash", "bash", "powershell", "prompt", "agent")
OUTCOMES = (("completed", "done", 0), ("completed", "done", 0), ("completed", "done", 0),
            ("failed", "failed", 1), ("cancelled", "cancelled", None))  # fmt: skip
TYPICAL_TASK = (
    "for i in $(seq 1 300); do "
    "printf '\\033[32mok\\033[0m step %03d: compiled module_%03d.o in %d ms\\n' $i $i $((i % 97)); "
    'if [ $((i % 50)) -eq 0 ]; then echo "warning: slow step $i" >&2; fi; done'
)
BIG_TASK = 'seq 1 20000 | awk \'{printf "\\033[36mline\\033[0m %06d %s\\n", $1, "payload"}\''


# -- seeding ---------------------------------------------------------------------------------
def run_real_tasks(app, fresh: int) -> dict[str, str]:
    """Tasks run by a real worker: a typical one (~16 KB of coloured log), a big one, and
    ``fresh`` more like the typical one, each viewed once (a first view renders its log)."""
    ids = {
        "big": orchestration.task_new(PROJECT, name="big-log", payload=BIG_TASK, actor=USER),
        "typical": orchestration.task_new(
            PROJECT, name="typical-build", payload=TYPICAL_TASK, actor=USER,
            description="A build-like task with coloured output and a few warnings.",
        ),
    }  # fmt: skip
    for n in range(fresh):
        ids[f"fresh{n}"] = orchestration.task_new(
            PROJECT, name=f"fresh-build-{n}", payload=TYPICAL_TASK, actor=USER
        )
    worker = Worker(orchestration.settings_of(app), threads=4, name="bench-seed")
    deadline = time.monotonic() + 120
    try:
        while not all(orchestration.get_task_meta(PROJECT, t.task_id).is_terminal
                      for t in ids.values()):  # fmt: skip
            if time.monotonic() > deadline:
                raise RuntimeError("the seed tasks did not finish within 120 s")
            worker.run_once()
            time.sleep(0.05)  # deadline loop while the real subprocesses run
    finally:
        worker.stop(5.0)
    return {key: task.task_id for key, task in ids.items()}


BATCH = 50_000
_TASK_SQL = (
    "INSERT INTO task_records (project_id, task_id, run_id, run_no, name, type, payload, "
    "description, status, engine_status, exit_code, reason, created_at, created_by, queued_at, "
    "started_at, finished_at, deleting, version) "
    "VALUES (?, ?, ?, 1, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 3)"
)
_RUN_SQL = (
    "INSERT INTO runs (run_id, project_id, task_id, run_no, created_at, created_by, status, lost) "
    "VALUES (?, ?, ?, 1, ?, ?, ?, 0)"
)
_ARCHIVE_SQL = (
    "INSERT INTO archive_entries (project_id, archive_id, task_id, name, type, status, exit_code, "
    "created_at, finished_at, created_by, deleted_by, archived_at, payload_excerpt, description, "
    "log_bytes, has_logs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, 1)"
)


def _bulk_ids(count: int, taken: set[str]) -> list[str]:
    ids = []
    while len(ids) < count:
        task_id = generate_task_id(taken)
        taken.add(task_id)
        ids.append(task_id)
    return ids


def _drop_indexes(db, tables: tuple[str, ...]) -> list[str]:
    """Drop the secondary indexes of ``tables``; return the SQL that makes them again."""
    marks = ", ".join("?" for _ in tables)
    rows = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks}) "
        "AND sql IS NOT NULL", list(tables)).fetchall()  # fmt: skip
    for name, _ in rows:
        db.execute(f"DROP INDEX {name}")
    return [sql for _, sql in rows]


def bulk_tasks(count: int) -> None:
    """``count`` finished and queued tasks (and their runs), older than the real ones, in
    batches of executemany; the insert trigger is off meanwhile and the counts and the
    trigram index are rebuilt once at the end (what a row-by-row insert would maintain)."""
    db = orchestration.current().store.db
    start = datetime.now(UTC) - timedelta(seconds=count * 3 + 60)
    taken = set(records.task_ids(db, PROJECT))
    began = time.perf_counter()
    db.execute("PRAGMA cache_size = -1000000")  # 1 GB while seeding: random-key index inserts
    with immediate(db):
        db.execute("DROP TRIGGER task_records_ai")
        indexes = _drop_indexes(db, ("task_records", "runs"))
        for first in range(0, count, BATCH):
            tasks, runs = [], []
            for n, task_id in enumerate(_bulk_ids(min(BATCH, count - first), taken), first):
                status, engine, exit_code = OUTCOMES[n % len(OUTCOMES)]
                if n % 97 == 0:
                    status, engine, exit_code = "queued", "pending", None
                created = start + timedelta(seconds=n * 3)
                started = None if engine == "pending" else created + timedelta(seconds=1)
                finished = None if started is None else started + timedelta(seconds=3 + n % 40)
                run_id = secrets.token_hex(16)
                at = created.isoformat(timespec="microseconds")
                tasks.append((
                    PROJECT, task_id, run_id, f"job-{n:07d}", TYPES[n % len(TYPES)],
                    f"make -C services/svc{n % 40} test TARGET=t{n}", status, engine, exit_code,
                    "cancelled" if status == "cancelled" else None, at, USER, at,
                    started and started.isoformat(timespec="microseconds"),
                    finished and finished.isoformat(timespec="microseconds"),
                ))  # fmt: skip
                runs.append((run_id, PROJECT, task_id, at, USER, engine))
            db.conn.executemany(_TASK_SQL, tasks)
            db.conn.executemany(_RUN_SQL, runs)
            print(f"  {first + len(tasks)} tasks in {time.perf_counter() - began:.1f} s")
        for sql in indexes:  # built once by sorting: far cheaper than 1M random inserts each
            db.execute(sql)
        print(f"  indexes built: {time.perf_counter() - began:.1f} s")
        db.execute(f"CREATE TRIGGER task_records_ai {_INSERT_TRIGGER}")
        db.execute("DELETE FROM task_counts")
        db.execute(
            "INSERT INTO task_counts (project_id, status, n) "
            "SELECT project_id, status, count(*) FROM task_records GROUP BY project_id, status"
        )
        db.execute("INSERT INTO task_search (task_search) VALUES ('rebuild')")
        records.bump_project(db, PROJECT)
        print(f"  counts and search index rebuilt: {time.perf_counter() - began:.1f} s")
    db.execute("PRAGMA cache_size = -2000")


def bulk_archive(count: int) -> None:
    """``count`` archive index entries (the archive list reads only the index), older than
    the real archived task; counts and the full-text index are rebuilt once at the end."""
    db = orchestration.current().store.db
    start = datetime.now(UTC) - timedelta(days=30)
    taken: set[str] = set()
    began = time.perf_counter()
    with immediate(db):
        triggers = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
            "'archive_entries'").fetchall()]  # fmt: skip
        saved = {name: db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name])
                 .fetchone()[0] for name in triggers}  # fmt: skip
        for name in triggers:
            db.execute(f"DROP TRIGGER {name}")
        for first in range(0, count, BATCH):
            rows = []
            for n, task_id in enumerate(_bulk_ids(min(BATCH, count - first), taken), first):
                status, _, exit_code = OUTCOMES[n % len(OUTCOMES)]
                archived = start + timedelta(seconds=n * 10)
                stamp = archived.strftime("%Y%m%dT%H%M%S%fZ")
                at = archived.isoformat(timespec="microseconds")
                rows.append((
                    PROJECT, f"{stamp}_{task_id}_old-{n:06d}", task_id, f"old-{n:06d}",
                    TYPES[n % len(TYPES)], status, exit_code, at, at, USER, USER, stamp,
                    f"make -C services/svc{n % 40} clean TARGET=o{n}", 4096 + n % 5000,
                ))  # fmt: skip
            db.conn.executemany(_ARCHIVE_SQL, rows)
        for sql in saved.values():
            db.execute(sql)
        print(f"  archive entries inserted in {time.perf_counter() - began:.1f} s")
        db.execute("DELETE FROM archive_counts")
        db.execute(
            "INSERT INTO archive_counts (project_id, status, n) SELECT project_id, "
            "coalesce(status, ''), count(*) FROM archive_entries GROUP BY project_id, status"
        )
        db.execute("INSERT INTO archive_entries_fts (archive_entries_fts) VALUES ('rebuild')")


def seed(data_dir: Path, count: int, archived: int, fresh: int) -> dict[str, str]:
    app = create_app({"DATA_DIR": str(data_dir), "WORKER_ENABLED": False,
                      "CREATE_FIRST_ADMIN": False})  # fmt: skip
    accounts = open_database(app.config["DATABASE"])
    try:
        users.create_user(accounts, USER, PASSWORD, role="operator", actor="bench",
                          hasher=app.extensions["webapp.password_hasher"])  # fmt: skip
    finally:
        accounts.close()
    with orchestration.bind(orchestration.settings_of(app)):
        orchestration.project_create(PROJECT, name="Benchmark", actor=USER)
        ids = run_real_tasks(app, fresh)
        gone = orchestration.task_new(PROJECT, name="deleted-build", payload=TYPICAL_TASK,
                                      actor=USER)  # fmt: skip
        run_real_tasks_until_done(app, gone.task_id)
        ids["archive_id"] = orchestration.task_delete(
            PROJECT, gone.task_id, actor=USER
        ).archive_dir.name
        search.index_all()
        started = time.perf_counter()
        bulk_tasks(count - len(ids))
        tasks_took = time.perf_counter() - started
        bulk_archive(archived - 1)
        took = time.perf_counter() - started
        total = orchestration.task_list(PROJECT, limit=1).total
        typical = orchestration.get_task_meta(PROJECT, ids["typical"])
        big_size = orchestration.read_task_log(PROJECT, ids["big"], max_bytes=1).size
        log_size = orchestration.read_task_log(PROJECT, ids["typical"], max_bytes=1).size
    print(f"seeded {total} tasks and {archived} archived by bulk inserts in {took:.1f} s "
          f"(tasks {tasks_took:.1f} s; target < 300 s); typical task log {log_size} B, "
          f"big task log {big_size} B")  # fmt: skip
    return {**ids, "version": str(typical.version), "big_size": str(big_size)}


def run_real_tasks_until_done(app, task_id: str) -> None:
    worker = Worker(orchestration.settings_of(app), threads=1, name="bench-archive")
    deadline = time.monotonic() + 60
    try:
        while not orchestration.get_task_meta(PROJECT, task_id).is_terminal:
            if time.monotonic() > deadline:
                raise RuntimeError("the task to archive did not finish within 60 s")
            worker.run_once()
            time.sleep(0.05)  # deadline loop while the real subprocess runs
    finally:
        worker.stop(5.0)


# -- serving ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    argv = gunicorn_argv("127.0.0.1", port, workers=1, threads=4)
    at = argv.index("--access-logfile")
    del argv[at : at + 2]  # a log line per request would only add the same cost to every row
    env = {**os.environ, "WEBAPP_DATA_DIR": str(data_dir), "WEBAPP_WORKER_ENABLED": "false",
           "WEBAPP_CREATE_FIRST_ADMIN": "false"}  # fmt: skip
    with log_path.open("w") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn did not listen:\n{log_path.read_text()}") from None
            time.sleep(0.05)  # deadline loop: the port is not open yet


def request(port: int, method: str, path: str, headers: dict, body: str | None = None):
    """One request on a fresh connection; returns (seconds, status, headers, body bytes)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, response.headers, data


def sign_in(port: int) -> str:
    """The session cookie of the benchmark user, signed in through the login form."""
    _, _, headers, body = request(port, "GET", "/login", {})
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    form = urlencode({"csrf_token": token, "username": USER, "password": PASSWORD})
    _, status, headers, _ = request(port, "POST", "/login", {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, form)  # fmt: skip
    if status != 302:
        raise RuntimeError(f"sign-in failed with {status}")
    return headers["Set-Cookie"].split(";", 1)[0]


# -- measuring -------------------------------------------------------------------------------
def endpoints(ids: dict[str, str]) -> list[tuple[str, object, dict, int]]:
    """(name, path or path-of-round function, headers, expected status)."""
    typical, big = ids["typical"], ids["big"]
    fresh = [ids[key] for key in sorted(ids) if key.startswith("fresh")]
    tail_from = max(0, int(ids["big_size"]) - 16 * 1024)
    htmx = {"HX-Request": "true"}
    return [
        ("static /static/app.css", "/static/app.css", {}, 200),
        ("list page (50 rows)", f"/projects/{PROJECT}", {}, 200),
        ("filtered list (failed, type bash)", f"/projects/{PROJECT}?status=failed&type=bash", {},
         200),
        ("last page of the list", f"/projects/{PROJECT}?last=1", {}, 200),
        ("last page, sorted by name", f"/projects/{PROJECT}?sort=name&last=1", {}, 200),
        ("filtered by starter and exit code", f"/projects/{PROJECT}?started_by={USER}&exit=1",
         {}, 200),
        ("archive page", f"/projects/{PROJECT}/archive", {}, 200),
        ("archive, last page", f"/projects/{PROJECT}/archive?last=1", {}, 200),
        ("archive, failed", f"/projects/{PROJECT}/archive?status=failed", {}, 200),
        ("search list (q=svc17)", f"/projects/{PROJECT}?q=svc17", {}, 200),
        ("search page (tasks and logs)", f"/projects/{PROJECT}/search?q=warning+slow", {}, 200),
        ("task page", f"/projects/{PROJECT}/tasks/{typical}", {}, 200),
        ("task page, first view (log rendered)",
         lambda n: f"/projects/{PROJECT}/tasks/{fresh[n]}", {}, 200),
        ("log tail (16 KB of new output)",
         f"/projects/{PROJECT}/tasks/{big}/log?offset={tail_from}", {"X-Log-Fragment": "1"}, 200),
        ("unchanged poll (task status)",
         f"/projects/{PROJECT}/tasks/{typical}/status?v={ids['version']}", htmx, 204),
        ("unchanged poll (list rows)", f"/projects/{PROJECT}/rows?v={ids['project_version']}",
         htmx, 204),
    ]  # fmt: skip


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]  # nearest rank


def measure(port: int, cookie: str, targets, rounds: int, warmup: int) -> dict[str, dict]:
    results = {name: {"samples": [], "bytes": 0} for name, *_ in targets}
    for round_no in range(warmup + rounds):
        for name, path, headers, expected in targets:
            url = path(round_no) if callable(path) else path
            seconds, status, _, body = request(port, "GET", url, {"Cookie": cookie, **headers})
            if status != expected:
                raise RuntimeError(f"{name}: {url} answered {status}, expected {expected}")
            if round_no >= warmup:
                results[name]["samples"].append(seconds * 1000)
                results[name]["bytes"] = len(body)
    return results


def report(results: dict[str, dict]) -> dict[str, float]:
    static = statistics.median(results["static /static/app.css"]["samples"])
    ratios = {}
    print(f"\n{'endpoint':40} {'median ms':>10} {'p95 ms':>8} {'bytes':>8} {'x static':>9}")
    for name, result in results.items():
        median = statistics.median(result["samples"])
        ratios[name] = median / static
        print(f"{name:40} {median:10.2f} {p95(result['samples']):8.2f} {result['bytes']:8d} "
              f"{ratios[name]:9.2f}")  # fmt: skip
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--archived", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--no-fanout", action="store_true", help="skip the fan-out timing")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="webapp-bench-web-"))
    process = None
    try:
        ids = seed(data_dir, args.tasks, args.archived, fresh=args.rounds + args.warmup)
        app = create_app({"DATA_DIR": str(data_dir), "WORKER_ENABLED": False,
                          "CREATE_FIRST_ADMIN": False})  # fmt: skip
        with orchestration.bind(orchestration.settings_of(app)):
            graphs = web_graphs.seed_graphs(PROJECT, USER)
            ids["project_version"] = str(orchestration.project_version(PROJECT))
        port = free_port()
        process = start_server(data_dir, port, data_dir / "gunicorn.log")
        cookie = sign_in(port)
        print(f"gunicorn on 127.0.0.1:{port}, 1 gthread worker x 4 threads; "
              f"{args.rounds} rounds after {args.warmup} warm-up rounds, "
              "one fresh connection per request")  # fmt: skip
        targets = endpoints(ids) + web_graphs.graph_endpoints(
            PROJECT, graphs, ids["project_version"]
        )
        results = measure(port, cookie, targets, args.rounds, args.warmup)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    ratios = report(results)
    fanout = None if args.no_fanout else web_graphs.fanout_vs_independent()
    web_graphs.report_graphs(ratios, fanout)
    lists = ("list page (50 rows)", "filtered list (failed, type bash)", "last page of the list",
             "last page, sorted by name", "filtered by starter and exit code")  # fmt: skip
    archive = ("archive page", "archive, last page", "archive, failed")
    searches = ("search list (q=svc17)", "search page (tasks and logs)")
    flat = ratios["last page of the list"] / ratios["list page (50 rows)"]
    print(f"\nlast page / first page = {flat:.2f} (flat means ~1)")
    print(
        "the task page keeps a finished run's rendered log (it never changes); its first view "
        f"renders ~16 KB of ANSI output: {ratios['task page, first view (log rendered)']:.2f}x"
    )
    polls = ("unchanged poll (task status)", "unchanged poll (list rows)")
    list_ratio = max(ratios[name] for name in lists)
    poll_ratio = max(ratios[name] for name in polls)
    print("targets: list, archive and search <= 4x (the worst page of each), task <= 2x, "
          "poll <= 1.5x (worst of the two polls)")  # fmt: skip
    graph = graph_ratio(ratios)
    print(f"ratios: list={list_ratio:.2f} task={ratios['task page']:.2f} poll={poll_ratio:.2f} "
          f"archive={max(ratios[n] for n in archive):.2f} "
          f"search={max(ratios[n] for n in searches):.2f} graph={graph}")  # fmt: skip
    return 0


def graph_ratio(ratios: dict[str, float]) -> str:
    """The workflow page at 2,000 members, once the workflow benchmarks measure it here."""
    value = ratios.get("workflow page (2,000 members)")
    return "na" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
