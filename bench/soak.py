"""Soak benchmark: 20 clients poll the dashboard for 10 minutes while tasks stream logs.

Starts gunicorn the way ``webapp serve`` does (2 worker processes, each with its task
worker; runs under run supervisors) on 127.0.0.1 with a fresh data folder, keeps 4 tasks
streaming a line every 0.2 s (a new one queued as one ends), and lets 20 client threads,
each signed in, loop over the list page, a task page, its live log tail and the unchanged
status and rows polls. Every request that is not the expected status (or that fails) is an
error. Prints requests/s, p50/p95, errors and the RSS of every server process at the start,
after the first minute and at the end (target: 0 errors, RSS growth < 10 MB after the first
minute).

Usage: .venv/bin/python bench/soak.py [--minutes 10] [--clients 20]
The last line is always `soak: rps=<x> p95_ms=<y> errors=<n> rss_growth_mib=<z>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web import PASSWORD, USER, free_port, request, sign_in  # noqa: E402

from webapp import create_app, orchestration  # noqa: E402
from webapp.accounts import users  # noqa: E402
from webapp.cli.serve import gunicorn_argv  # noqa: E402
from webapp.store.db import open_database  # noqa: E402
from webapp.worker.backends import local  # noqa: E402

PROJECT = "soak"
STREAMING = 4
STREAM_TASK = 'for i in $(seq 1 150); do echo "line $i of a streaming task"; sleep 0.2; done'


def seed(data_dir: Path) -> orchestration.Settings:
    app = create_app({"DATA_DIR": str(data_dir), "WORKER_ENABLED": False,
                      "CREATE_FIRST_ADMIN": False})  # fmt: skip
    accounts = open_database(app.config["DATABASE"])
    try:
        users.create_user(accounts, USER, PASSWORD, role="operator", actor="soak",
                          hasher=app.extensions["webapp.password_hasher"])  # fmt: skip
    finally:
        accounts.close()
    settings = orchestration.settings_of(app)
    with orchestration.bind(settings):
        orchestration.project_create(PROJECT, name="Soak", actor=USER)
        for _ in range(STREAMING):
            orchestration.task_new(PROJECT, payload=STREAM_TASK, actor=USER)
    return settings


def start_server(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    argv = gunicorn_argv("127.0.0.1", port, workers=2, threads=8)
    at = argv.index("--access-logfile")
    del argv[at : at + 2]
    env = {**os.environ, "WEBAPP_DATA_DIR": str(data_dir), "WEBAPP_CREATE_FIRST_ADMIN": "false"}
    with log_path.open("w") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            request(port, "GET", "/static/app.css", {})
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"gunicorn did not listen:\n{log_path.read_text()}") from None
            time.sleep(0.1)  # deadline loop: the port is not open yet


def server_processes(master: int) -> dict[str, int]:
    """name -> pid of gunicorn's master, its workers and their fork servers."""
    found = {"gunicorn master": master}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        if ppid == master:
            found[f"gunicorn worker {entry.name}"] = int(entry.name)
    for name, pid in list(found.items()):
        if name.startswith("gunicorn worker"):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        with open(f"/proc/{entry.name}/stat", "rb") as fh:
                            data = fh.read()
                    except OSError:
                        continue
                    if int(data[data.rfind(b")") + 2 :].split()[1]) == pid:
                        found[f"fork server of {pid}"] = int(entry.name)
    return found


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Feeder(threading.Thread):
    """Keeps STREAMING tasks running: queues a new one whenever one ends."""

    def __init__(self, settings: orchestration.Settings, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.settings, self.stop = settings, stop
        self.current: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        with orchestration.bind(self.settings):
            while not self.stop.is_set():
                tasks = orchestration.task_list(PROJECT, limit=200).items
                live = [t.task_id for t in tasks if not t.is_terminal]
                for _ in range(STREAMING - len(live)):
                    live.append(orchestration.task_new(PROJECT, payload=STREAM_TASK).task_id)
                with self.lock:
                    self.current = live
                self.stop.wait(1.0)

    def pick(self, n: int) -> str:
        with self.lock:
            return self.current[n % len(self.current)]


def client(port: int, feeder: Feeder, stop: threading.Event, out: list, n: int) -> None:
    cookie = sign_in(port)
    headers = {"Cookie": cookie}
    htmx = {**headers, "HX-Request": "true"}
    offsets: dict[str, int] = {}
    i = n
    while not stop.is_set():
        task_id = feeder.pick(i)
        i += 1
        base = f"/projects/{PROJECT}"
        for path, head, ok in (
            (base, headers, (200,)),
            (f"{base}/tasks/{task_id}", headers, (200,)),
            (f"{base}/tasks/{task_id}/log?offset={offsets.get(task_id, 0)}",
             {**headers, "X-Log-Fragment": "1"}, (200, 204)),
            (f"{base}/tasks/{task_id}/status?v=0", htmx, (200, 204, 286)),
            (f"{base}/rows?v=0", htmx, (200, 204)),
        ):  # fmt: skip
            try:
                took, status, _, body = request(port, "GET", path, head)
                out.append((took, status in ok))
            except OSError:
                out.append((0.0, False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = seed(data_dir)
        port = free_port()
        server = start_server(data_dir, port, Path(tmp) / "gunicorn.log")
        stop = threading.Event()
        feeder = Feeder(settings, stop)
        samples: list[list] = [[] for _ in range(args.clients)]
        try:
            feeder.start()
            while not feeder.current:
                stop.wait(0.1)
            pids = server_processes(server.pid)
            rss = {"start": {name: rss_mib(pid) for name, pid in pids.items()}}
            threads = [threading.Thread(target=client, args=(port, feeder, stop, samples[n], n),
                                        daemon=True) for n in range(args.clients)]  # fmt: skip
            started = time.monotonic()
            for thread in threads:
                thread.start()
            stop.wait(min(60.0, args.minutes * 60))
            rss["after 1 min"] = {name: rss_mib(pid) for name, pid in pids.items()}
            stop.wait(max(0.0, args.minutes * 60 - (time.monotonic() - started)))
            rss["end"] = {name: rss_mib(pid) for name, pid in pids.items()}
            stop.set()
            elapsed = time.monotonic() - started
            for thread in threads:
                thread.join(60)
        finally:
            stop.set()
            server.terminate()
            server.wait(60)
            local.end_supervised_runs(data_dir)
            settings.store.close()
    flat = [s for client_samples in samples for s in client_samples]
    times = sorted(took for took, ok in flat if ok)
    errors = sum(1 for _, ok in flat if not ok)
    p95 = times[int(0.95 * (len(times) - 1))] * 1000 if times else 0.0
    print(f"{args.clients} clients for {args.minutes:g} min against 2 gunicorn workers while "
          f"{STREAMING} tasks stream logs")  # fmt: skip
    print(f"requests: {len(flat)} ({len(flat) / elapsed:.1f}/s), errors: {errors}, "
          f"p50 {statistics.median(times or [0.0]) * 1000:.1f} ms, p95 {p95:.1f} ms")  # fmt: skip
    print("RSS (MiB)          " + "".join(f"{when:>14}" for when in rss))
    for name in pids:
        print(f"{name:<19}" + "".join(f"{rss[when][name]:14.1f}" for when in rss))
    growth = max(rss["end"][n] - rss["after 1 min"][n] for n in pids)
    print(f"soak: rps={len(flat) / elapsed:.1f} p95_ms={p95:.1f} errors={errors} "
          f"rss_growth_mib={growth:.1f}")  # fmt: skip
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
