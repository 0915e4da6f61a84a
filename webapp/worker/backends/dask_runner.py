"""The code a Dask worker runs for one webapp run: standard library only.

Dask workers cannot import the dashboard's package, so the dashboard sends this module's
*source* and the worker executes it (see :mod:`webapp.worker.backends.dask`). It follows the
run supervisor's rules: the command runs in its own process group; a stop sends SIGTERM to
the group and SIGKILL after the grace; leftovers in the group are ended when the command
exits. A guard process ends the group if the Dask worker itself dies (kill -9).

The command runs in ``$WEBAPP_REMOTE_ROOT/<project>/<task>/workspace`` on the worker's host,
with a short list of the host's variables plus the project's environment (never the
dashboard server's). Output is published as ``(stream, offset, seq, data)`` chunks through
``publish`` (the worker's event log), flushed at once unless the last flush was less than
20 ms ago; a copy of every chunk stays in ``runs/<run_no>.chunks`` for gap filling.
"""

import base64
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import types

FLUSH_GAP = 0.020
TAIL_BYTES = 64 * 1024
HOST_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME",
            "SHELL", "TERM")  # fmt: skip
REGISTRY = "_webapp_dask_runs"

# Runs in its own session; ends the command's group when the runner's pipe closes without
# "done" (the Dask worker died): SIGTERM, then SIGKILL after the grace. (sh: starts in 1 ms.)
GUARD = (
    'read -r word; [ "$word" = done ] && exit 0; '
    'kill -s TERM -- "-$1" 2>/dev/null || exit 0; sleep "$2"; kill -s KILL -- "-$1" 2>/dev/null'
)


def registry():
    """Live runs of this worker process: {run_id: {"wake": fd, "stop": Event, "grace": s}}."""
    module = sys.modules.get(REGISTRY)
    if module is None:
        module = sys.modules.setdefault(REGISTRY, types.ModuleType(REGISTRY))
        module.runs = {}
    return module.runs


def stop(run_id, grace=None):
    """Ask a run of this worker process to stop (sent with ``client.run``); False if absent."""
    entry = registry().get(run_id)
    if entry is None:
        return False
    if grace is not None:
        entry["grace"] = float(grace)
    entry["stop"].set()
    with contextlib.suppress(OSError):
        os.write(entry["wake"], b"s")
    return True


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_copy(path, seqs):
    """Chunks ``seqs`` from a run's copy on this host (the dashboard fills gaps with them)."""
    wanted, found = set(seqs), []
    try:
        with open(path) as fh:
            for line in fh:
                chunk = json.loads(line)
                if chunk["seq"] in wanted:
                    chunk["data"] = base64.b64decode(chunk["data"])
                    found.append(chunk)
    except OSError:
        pass
    return found


def workspace(request):
    root = os.environ.get("WEBAPP_REMOTE_ROOT") or os.path.join(
        os.path.expanduser("~"), ".webapp-remote"
    )
    task_dir = os.path.join(root, request["project_id"], request["task_id"])
    cwd = os.path.join(task_dir, "workspace")
    os.makedirs(os.path.join(task_dir, "runs"), exist_ok=True)
    repo = request.get("git_repo")
    if repo and not os.path.isdir(os.path.join(cwd, ".git")):
        subprocess.run(["git", "clone", "--quiet", repo, cwd], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)  # fmt: skip
    os.makedirs(cwd, exist_ok=True)
    return task_dir, cwd


def command_env(request):
    env = {k: v for k, v in os.environ.items() if k in HOST_ENV or k.startswith("LC_")}
    env.update(request.get("env") or {})
    return env


class Tail:
    def __init__(self):
        self.data = bytearray()

    def add(self, data):
        self.data += data
        del self.data[:-TAIL_BYTES]

    def text(self):
        return self.data.decode("utf-8", "replace")


def run(request, publish, where=None, alive=lambda: True):
    """Run ``request["argv"]``; returns its end: reason, returncode, output tails, last seq.
    ``alive()`` false (the Dask worker lost its scheduler): the command is stopped."""
    run_id = request["run_id"]
    where = dict(where or {})
    task_dir, cwd = workspace(request)
    copy_path = os.path.join(task_dir, "runs", f"{request['run_no']}.chunks")
    wake_r, wake_w = os.pipe()
    entry = {"wake": wake_w, "stop": threading.Event(), "grace": float(request["grace"])}
    registry()[run_id] = entry
    tails = {"stdout": Tail(), "stderr": Tail()}
    offsets = {"stdout": 0, "stderr": 0}
    state = {"seq": 0, "last_flush": 0.0}
    pending = []
    try:
        proc = subprocess.Popen(
            request["argv"], cwd=cwd, env=command_env(request), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        registry().pop(run_id, None)
        os.close(wake_r)
        os.close(wake_w)
        return {"reason": "error", "error": str(exc), "seq": 0, **where}
    pgid = proc.pid
    guard = subprocess.Popen(
        ["/bin/sh", "-c", GUARD, "guard", str(pgid), str(entry["grace"])],
        stdin=subprocess.PIPE, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    publish({"run": run_id, "kind": "started", **where})
    copy = open(copy_path, "a")  # noqa: SIM115 - closed below

    def flush():
        for stream, data in pending:
            state["seq"] += 1
            chunk = {"run": run_id, "kind": "output", "seq": state["seq"], "stream": stream,
                     "offset": offsets[stream]}  # fmt: skip
            offsets[stream] += len(data)
            copy.write(json.dumps({**chunk, "data": base64.b64encode(data).decode()}) + "\n")
            publish({**chunk, "data": data})
        copy.flush()
        pending.clear()
        state["last_flush"] = time.monotonic()

    reason, kill_at = "exited", None
    started = time.monotonic()
    timeout = request.get("timeout")
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
    selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
    selector.register(wake_r, selectors.EVENT_READ, None)
    open_pipes = 2
    try:
        while open_pipes:
            now = time.monotonic()
            waits = [0.1]
            if pending:
                waits.append(max(0.0, state["last_flush"] + FLUSH_GAP - now))
            if kill_at is not None:
                waits.append(max(0.0, kill_at - now))
            if timeout and reason == "exited":
                waits.append(max(0.0, started + timeout - now))
            for key, _ in selector.select(min(waits)):
                if key.data is None:
                    os.read(wake_r, 64)
                    continue
                data = os.read(key.fileobj.fileno(), 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                tails[key.data].add(data)
                if pending and pending[-1][0] == key.data:
                    pending[-1] = (key.data, pending[-1][1] + data)
                else:
                    pending.append((key.data, data))
            if proc.poll() is not None and not request.get("keep_daemons"):
                signal_group(pgid, signal.SIGKILL)  # leftovers hold the pipes open
            now = time.monotonic()
            if pending and now - state["last_flush"] >= FLUSH_GAP:
                flush()
            orphaned = reason == "exited" and not alive()
            if reason == "exited" and (entry["stop"].is_set() or orphaned or
                                       (timeout and now - started >= timeout)):  # fmt: skip
                reason = "stopped" if entry["stop"].is_set() else \
                    "lost" if orphaned else "timeout"  # fmt: skip
                signal_group(pgid, signal.SIGTERM)
                kill_at = now + entry["grace"]
            if kill_at is not None and now >= kill_at:
                signal_group(pgid, signal.SIGKILL)
                kill_at = None
        if kill_at is not None:  # the pipes closed; the command may still ignore TERM
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, kill_at - time.monotonic()))
        signal_group(pgid, signal.SIGKILL) if not request.get("keep_daemons") else None
        returncode = proc.wait()
        if pending:
            flush()
    finally:
        selector.close()
        copy.close()
        registry().pop(run_id, None)
        os.close(wake_r)
        os.close(wake_w)
        try:
            guard.stdin.write(b"done\n")
            guard.stdin.close()
        except OSError:
            pass
        guard.wait()
    if reason == "exited" and returncode < 0 and entry["stop"].is_set():
        reason = "stopped"
    return {"reason": reason, "returncode": returncode, "stdout": tails["stdout"].text(),
            "stderr": tails["stderr"].text(), "seq": state["seq"], "copy": copy_path,
            "pgid": pgid, **where}  # fmt: skip


def signal_group(pgid, sig):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
