"""Web benchmark: the dashboard under gunicorn with 10,000 tasks in one project.

Seeds a fresh data folder (two real tasks run by a real worker, then 10,000 more written in one
transaction through the store layer, so counts and the search index are maintained by the
schema's own triggers), starts gunicorn on 127.0.0.1 the way ``webapp serve`` does (one gthread
worker, no task worker, no access log), signs in, and times sequential requests, each on a fresh
TCP connection, interleaved round by round so load noise hits every endpoint alike.

Each endpoint's median and p95 are compared with a static file of the same server in the same
run (``/static/app.css``). Targets: list <= 4x static and flat to page 100, task page <= 2x,
unchanged poll <= 1.5x.

Usage: .venv/bin/python bench/web.py [--tasks N] [--rounds N] [--warmup N] [--keep]
The last line is always `ratios: list=<x> task=<y> poll=<z>`.
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
from webapp.orchestration.identity import generate_task_id
from webapp.store import records
from webapp.store.db import immediate, open_database
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


def bulk_tasks(count: int) -> None:
    """``count`` finished and queued tasks in one transaction, older than the real ones."""
    db = orchestration.current().store.db
    start = datetime.now(UTC) - timedelta(seconds=count * 30 + 60)
    with immediate(db):
        taken = set(records.task_ids(db, PROJECT))
        for n in range(count):
            task_id = generate_task_id(taken)
            taken.add(task_id)
            status, engine, exit_code = OUTCOMES[n % len(OUTCOMES)]
            if n % 97 == 0:
                status, engine, exit_code = "queued", "pending", None
            created = start + timedelta(seconds=n * 30)
            started = None if engine == "pending" else created + timedelta(seconds=1)
            finished = None if started is None else started + timedelta(seconds=3 + n % 40)
            run_id = secrets.token_hex(16)
            text = {"created": created.isoformat(timespec="microseconds")}
            row = {
                "project_id": PROJECT, "task_id": task_id, "run_id": run_id, "run_no": 1,
                "name": f"job-{n:05d}", "type": TYPES[n % len(TYPES)],
                "payload": f"make -C services/svc{n % 40} test TARGET=t{n}", "description": "",
                "status": status, "engine_status": engine, "exit_code": exit_code,
                "reason": "cancelled" if status == "cancelled" else None,
                "created_at": text["created"], "created_by": USER, "queued_at": text["created"],
                "started_at": started and started.isoformat(timespec="microseconds"),
                "finished_at": finished and finished.isoformat(timespec="microseconds"),
                "deleting": 0, "version": 3,
            }  # fmt: skip
            records.insert_task_record(db, row)
            records.insert_run(db, {
                "run_id": run_id, "project_id": PROJECT, "task_id": task_id, "run_no": 1,
                "created_at": text["created"], "created_by": USER, "status": engine, "lost": 0,
            })  # fmt: skip
            records.add_transition(db, {
                "project_id": PROJECT, "task_id": task_id, "run_id": run_id, "run_no": 1,
                "at": text["created"], "actor": USER, "from_status": None, "to_status": "queued",
            })  # fmt: skip
        records.bump_project(db, PROJECT)


def seed(data_dir: Path, count: int, fresh: int) -> dict[str, str]:
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
        started = time.perf_counter()
        bulk_tasks(count - len(ids))
        took = time.perf_counter() - started
        total = orchestration.task_list(PROJECT, limit=1).total
        typical = orchestration.get_task_meta(PROJECT, ids["typical"])
        big_size = orchestration.read_task_log(PROJECT, ids["big"], max_bytes=1).size
        log_size = orchestration.read_task_log(PROJECT, ids["typical"], max_bytes=1).size
    print(f"seeded {total} tasks ({count - len(ids)} in one transaction in {took:.2f} s); "
          f"typical task log {log_size} B, big task log {big_size} B")  # fmt: skip
    return {**ids, "version": str(typical.version), "big_size": str(big_size)}


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
        ("search list (q=svc17)", f"/projects/{PROJECT}?q=svc17", {}, 200),
        ("list page 100", f"/projects/{PROJECT}?page=100", {}, 200),
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
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--no-fanout", action="store_true", help="skip the fan-out timing")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="webapp-bench-web-"))
    process = None
    try:
        ids = seed(data_dir, args.tasks, fresh=args.rounds + args.warmup)
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
    lists = ("list page (50 rows)", "filtered list (failed, type bash)", "list page 100")
    flat = ratios["list page 100"] / ratios["list page (50 rows)"]
    print(f"\nlist page 100 / page 1 = {flat:.2f} (flat means ~1)")
    print(
        "the task page keeps a finished run's rendered log (it never changes); its first view "
        f"renders ~16 KB of ANSI output: {ratios['task page, first view (log rendered)']:.2f}x"
    )
    polls = ("unchanged poll (task status)", "unchanged poll (list rows)")
    list_ratio = max(ratios[name] for name in lists)
    poll_ratio = max(ratios[name] for name in polls)
    print("targets: list <= 4x (worst of page 1, filtered, page 100), task <= 2x, poll <= 1.5x "
          "(worst of the two polls)")  # fmt: skip
    print(f"ratios: list={list_ratio:.2f} task={ratios['task page']:.2f} poll={poll_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
