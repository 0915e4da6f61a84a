"""A task printing 200 MB: flat worker memory, a capped log with its marker, a tail that
reads only the end of it."""

from __future__ import annotations

from webapp import orchestration as orch
from webapp.orchestration import logs

TOTAL = 200_000_000
LINE = 1000  # 200,000 lines of 999 "x" and a newline


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/self/status")


def _reset_peak_rss() -> bool:
    """Make VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def test_200_mb_of_output_keeps_the_worker_flat(tmp_path, make_worker, until, bytes_read):
    # ~2 s: 200 MB really go through the pipe, the line splitter and the log writer.
    settings = orch.Settings.for_data_dir(tmp_path / "big", worker_poll_interval=0.05)
    with orch.bind(settings):
        orch.project_create("demo")
        payload = f"yes \"$(printf 'x%.0s' $(seq {LINE - 1}))\" | head -c {TOTAL}"
        task = orch.task_new("demo", payload=payload)
        worker = make_worker(threads=1, target=settings)
        worker.register()
        baseline = _status_kib("VmRSS")
        exact_peak = _reset_peak_rss()
        sampled = baseline
        worker.run_once()

        def finished() -> bool:
            nonlocal sampled
            sampled = max(sampled, _status_kib("VmRSS"))
            return orch.get_task_meta("demo", task.task_id).is_terminal

        until(finished, timeout=120)
        peak = max(sampled, _status_kib("VmHWM") if exact_peak else 0)
        meta = orch.get_task_meta("demo", task.task_id)
        assert meta.status == "completed", meta.error
        grew = (peak - baseline) / 1024
        print(f"worker RSS grew by {grew:.1f} MiB while the task printed {TOTAL} bytes")
        assert grew < 50, f"worker RSS grew by {grew:.1f} MiB"
        assert len(meta.result_output_tail.encode()) <= settings.output_tail_bytes

        path = orch.task_log_path("demo", task.task_id)
        size = path.stat().st_size
        # whole lines up to the cap (the supervisor writes 64 KiB chunks), then the marker
        assert settings.log_cap_bytes - LINE - 200 <= size < settings.log_cap_bytes + 200
        reads = bytes_read(logs)
        tail = orch.tail_task_log("demo", task.task_id, lines=100)
        shown = len(tail.text.encode())  # found from the end, then read: never the 50 MB
        assert reads[str(path)] <= 2 * shown + 64 * 1024, (reads, shown)
        assert tail.truncated and tail.segments[-1][0] == "system"
        assert "log truncated at 50 MB" in tail.text
        assert tail.text.count("\n") == 100
        body = [line for line in tail.text.splitlines() if not line.startswith("[webapp]")]
        assert all(line == "x" * (LINE - 1) for line in body[:-1])
        assert set(body[-1]) == {"x"}  # the cap may cut the last line short
