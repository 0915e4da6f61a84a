"""BASH tasks through the real runner: behaviours 15-21, 41 and 49, and bugs 2, 6 and 14."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import threading
import time
import warnings

import pytest

from webapp.engine import (
    Task,
    TaskCancelled,
    TaskEventType,
    TaskExecutionError,
    TaskStatus,
    TaskTimeoutError,
    make_bash_handler,
)


def test_echo_succeeds(executor):  # behaviour 15
    task = Task.bash("echo hi")
    result = executor.execute(task)
    assert (result.status, result.output, result.error, result.returncode) == (
        TaskStatus.DONE,
        "hi\n",
        None,
        0,
    )
    assert isinstance(result.raw, subprocess.CompletedProcess)
    assert result.termination_reason is None and task.result is result and task.is_done
    assert not executor.is_running(task.id)


def test_exit_code_fails(executor):  # behaviour 16
    task = Task.bash("exit 7")
    with pytest.raises(TaskExecutionError, match="exited with code 7"):
        executor.execute(task)
    assert task.is_failed and task.error == task.result.error == "exited with code 7"
    assert task.result.returncode == 7 and task.result.termination_reason == "exit_code"


def test_stderr_is_the_error_message(executor):  # behaviour 17
    task = Task.bash("echo before; echo boom >&2; exit 7")
    with pytest.raises(TaskExecutionError) as caught:
        executor.execute(task)
    assert str(caught.value) == task.error == "boom\n"
    assert task.result.output == "before\n" and task.result.error == "boom\n"
    assert caught.value.completed.returncode == 7


def test_timeout_kills_and_fails(executor):  # behaviours 18 and 20
    task = Task.bash("echo partial; echo oops >&2; sleep 30", timeout=0.2)
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError, match=r"Task timed out after 0.2 seconds") as caught:
        executor.execute(task)
    assert time.monotonic() - start < 10  # killed at the timeout, not after the 30 s sleep
    assert isinstance(caught.value, TimeoutError)
    message = "Task timed out after 0.2 seconds"
    assert task.is_failed and task.error == task.result.error == message
    assert task.result.termination_reason == "timeout"
    assert task.result.output == "partial\n" and task.result.raw.stderr == "oops\n"
    assert task.result.returncode == -15  # SIGTERM to the group
    assert not executor.is_running(task.id)


def test_timeout_bounds_draining_when_a_child_holds_the_pipe(executor):  # 19, bug 6
    task = Task.bash("printf 'before\\n'; sleep 30 &", timeout=0.2)
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError):
        executor.execute(task)
    assert time.monotonic() - start < 10  # not until the child closes the pipe (30 s)
    assert task.result.output == "before\n" and task.result.returncode == 0


def test_sigterm_ignored_escalates_to_sigkill(executor):  # behaviour 20, with a short grace
    from webapp.engine import TaskType, make_bash_handler

    executor.register(TaskType.BASH, make_bash_handler(kill_grace=0.2))
    task = Task.bash("trap '' TERM; echo ready; while :; do sleep 0.05; done", timeout=0.2)
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError):
        executor.execute(task)
    assert time.monotonic() - start < 10  # the loop never ends by itself: SIGKILL ended it
    assert task.result.returncode == -9 and task.result.output == "ready\n"


def test_shell_features_and_bad_bytes(executor):  # behaviour 21
    assert executor.execute(Task.bash("printf 'hello\\n' | grep hello")).output == "hello\n"
    task = Task.bash("printf 'a\\377b\\n'")
    assert executor.execute(task).output == "a\ufffdb\n" and task.is_done


def test_universal_newlines_like_text_mode(executor, recorder):  # reference 2.2 (text=True)
    task = Task.bash("printf 'a\\r\\nb\\r\\n'; printf 'p1\\rp2\\rp3'")
    assert executor.execute(task).output == "a\nb\np1\np2\np3"
    chunks = [e.output_chunk for e in recorder.of(TaskEventType.OUTPUT, task)]
    assert chunks == ["a\n", "b\n", "p1\n", "p2\n", "p3"]
    split = Task.bash("printf 'x\\r'; sleep 0.05; printf '\\ny\\r'")
    assert executor.execute(split).output == "x\ny\n"  # a "\r\n" split across reads is one end


def test_raw_newlines_on_request(executor):
    from webapp.engine import TaskType, make_bash_handler

    executor.register(TaskType.BASH, make_bash_handler(universal_newlines=False))
    assert executor.execute(Task.bash("printf 'a\\r\\nb\\rc'")).output == "a\r\nb\rc"


def test_bash_runs_under_bash_not_sh(executor):  # bug 2
    result = executor.execute(Task.bash('[[ 1 == 1 ]] && echo "$0 $BASH_VERSION"'))
    shell, version = result.output.split()
    assert shell.endswith("bash") and version[0].isdigit()
    assert result.raw.args[:2] == ["bash", "-c"]


def test_cancel_from_another_thread(executor, recorder, wait_until):  # behaviour 41
    task = Task.bash("echo started; sleep 30")
    caught: list[BaseException] = []

    def run() -> None:
        try:
            executor.execute(task)
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(lambda: executor.is_running(task.id) and recorder.of(TaskEventType.OUTPUT))
    start = time.monotonic()
    executor.cancel(task)
    thread.join(timeout=15)
    assert time.monotonic() - start < 10  # stopped, not the 30 s sleep
    assert isinstance(caught[0], TaskCancelled) and task.is_cancelled
    assert task.result.status is TaskStatus.CANCELLED
    assert task.result.termination_reason == "cancelled"
    assert task.result.output == "started\n"  # partial output is kept
    assert len(recorder.of(TaskEventType.CANCELLED, task)) == 1
    assert not executor.is_running(task.id)


def test_cancel_with_grace_zero_kills_at_once(
    executor_with, recorder, wait_until
):  # executor.cancel(grace=)
    # The handler's own grace is an hour: only grace=0 can end this TERM-ignoring loop.
    executor = executor_with(make_bash_handler(kill_grace=3600.0))
    task = Task.bash("trap '' TERM; echo ready; while :; do sleep 0.05; done")
    thread = threading.Thread(target=lambda: pytest.raises(TaskCancelled, executor.execute, task))
    thread.start()
    wait_until(lambda: recorder.of(TaskEventType.OUTPUT, task))
    executor.cancel(task, grace=0)
    thread.join(timeout=60)
    assert not thread.is_alive() and task.result.returncode == -9  # SIGKILL, not the hour


def test_output_events_per_line(executor, recorder):  # behaviour 49
    task = Task.bash("echo one; echo two >&2; printf 'three'")
    result = executor.execute(task)
    output = recorder.of(TaskEventType.OUTPUT, task)
    assert {e.output_stream for e in output} == {"stdout", "stderr"}
    stdout = "".join(e.output_chunk for e in output if e.output_stream == "stdout")
    stderr = "".join(e.output_chunk for e in output if e.output_stream == "stderr")
    assert stdout == result.output == "one\nthree" and stderr == result.error == "two\n"
    assert all(e.previous_status is None and e.status is TaskStatus.RUNNING for e in output)
    types = recorder.types(task)
    assert types[0] is TaskEventType.STARTED and types[-1] is TaskEventType.SUCCEEDED


def test_output_events_on_timeout_match_raw_stderr(executor, recorder):  # behaviour 49
    task = Task.bash("echo err >&2; sleep 5", timeout=0.2)
    with pytest.raises(TaskTimeoutError):
        executor.execute(task)
    chunks = [e.output_chunk for e in recorder.of(TaskEventType.OUTPUT, task)]
    assert chunks == ["err\n"] == [task.result.raw.stderr]
    assert recorder.types(task)[-1] is TaskEventType.FAILED


def test_output_lines_keep_arrival_order(executor, recorder):  # one reader, arrival order
    task = Task.bash("for i in 1 2 3; do echo out$i; sleep 0.02; echo err$i >&2; sleep 0.02; done")
    executor.execute(task)
    chunks = [e.output_chunk.strip() for e in recorder.of(TaskEventType.OUTPUT, task)]
    assert chunks == ["out1", "err1", "out2", "err2", "out3", "err3"]


def test_pipes_are_closed_no_resource_warning(executor):  # bug 14
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for payload in ("echo hi", "exit 3", "sleep 5"):
            task = Task.bash(payload, timeout=0.1)
            with contextlib.suppress(TaskExecutionError, TaskTimeoutError):
                executor.execute(task)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_process_that_closes_its_pipes_is_still_waited_for(executor, tmp_path):
    marker = tmp_path / "exited"
    result = executor.execute(Task.bash(f"echo hi; exec 1>&- 2>&-; sleep 0.2; touch {marker}"))
    assert result.output == "hi\n" and marker.exists()  # returned after the process ended
    task = Task.bash("exec 1>&- 2>&-; sleep 5", timeout=0.2)
    with pytest.raises(TaskTimeoutError):
        executor.execute(task)
    assert task.result.returncode == -15


def test_default_grace_before_sigkill_is_five_seconds(executor):  # behaviour 20
    # Slow by design (about 5 s): it measures the default SIGTERM -> SIGKILL grace period.
    task = Task.bash("trap '' TERM; echo ready; while :; do sleep 0.05; done", timeout=0.2)
    start = time.monotonic()
    with pytest.raises(TaskTimeoutError):
        executor.execute(task)
    assert 4.9 <= time.monotonic() - start < 9  # 5 s, not (say) 10
    assert task.result.returncode == -9 and task.result.output == "ready\n"
