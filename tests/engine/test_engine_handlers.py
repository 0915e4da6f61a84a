"""Handler factories: the shared runner's options, pwsh, LLM providers and agent CLIs."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webapp.engine import (
    HandlerUnavailableError,
    Task,
    TaskExecutionError,
    TaskExecutor,
    TaskTimeoutError,
    TaskType,
    make_bash_handler,
    make_cli_agent_handler,
    make_copilot_agent_handler,
    make_copilot_prompt_handler,
    make_http_prompt_handler,
)
from webapp.engine.handlers.copilot import copilot_available


def executor_for(task_type: TaskType, handler) -> TaskExecutor:
    ex = TaskExecutor.empty()
    ex.register(task_type, handler)
    return ex


# -- the shared subprocess runner -----------------------------------------------------------------
def test_on_output_sees_every_line_with_its_task(tmp_path):
    lines: list[tuple[str, str, str]] = []
    handler = make_bash_handler(
        on_output=lambda ctx, stream, line: lines.append((ctx.id, stream, line))
    )
    task = Task.bash("echo a; echo b >&2; echo c")
    executor_for(TaskType.BASH, handler).execute(task)
    assert [line for line in lines if line[1] == "stdout"] == [
        (task.id, "stdout", "a\n"),
        (task.id, "stdout", "c\n"),
    ]
    assert [line for line in lines if line[1] == "stderr"] == [(task.id, "stderr", "b\n")]


def test_keep_output_bytes_keeps_the_tail():
    streamed: list[str] = []
    handler = make_bash_handler(
        keep_output_bytes=10, on_output=lambda c, s, line: streamed.append(line)
    )
    result = executor_for(TaskType.BASH, handler).execute(
        Task.bash("for i in $(seq 1 100); do echo line$i; done")
    )
    assert result.output == "line100\n"  # the last whole lines that fit
    assert len(streamed) == 100  # everything is still reported
    long_line = make_bash_handler(keep_output_bytes=5)
    result = executor_for(TaskType.BASH, long_line).execute(
        Task.bash("echo one; printf abcdefghij")
    )
    assert result.output == "fghij"  # one line longer than the cap: its tail


def test_on_spawn_gets_the_process_group(tmp_path):
    seen: list[int] = []
    handler = make_bash_handler(on_spawn=lambda ctx, pid: seen.append(pid))
    result = executor_for(TaskType.BASH, handler).execute(Task.bash("ps -o pgid= -p $$"))
    assert seen and int(result.output) == seen[0]


def test_cwd_and_env_per_task(tmp_path):
    (tmp_path / "a").mkdir()
    handler = make_bash_handler(
        cwd=lambda ctx: tmp_path / ctx.title,
        env=lambda ctx: {"TASK_TITLE": ctx.title},
    )
    result = executor_for(TaskType.BASH, handler).execute(
        Task.bash('echo "$PWD $TASK_TITLE ${HOME:+home}"', title="a")
    )
    assert result.output == f"{tmp_path / 'a'} a home\n"  # env is laid over os.environ


def test_option_validation():
    with pytest.raises(ValueError, match="keep_output_bytes"):
        make_bash_handler(keep_output_bytes=-1)
    with pytest.raises(ValueError, match="kill_grace"):
        make_bash_handler(kill_grace=-1)


def test_long_lines_and_no_trailing_newline():
    result = executor_for(TaskType.BASH, make_bash_handler()).execute(
        Task.bash("head -c 200000 /dev/zero | tr '\\0' x; printf end")
    )
    assert result.output == "x" * 200000 + "end"


def test_missing_program_fails_with_handler_reason(tmp_path):
    handler = make_bash_handler(env={"PATH": str(tmp_path)})  # no bash on this PATH
    task = Task.bash("true")
    with pytest.raises(FileNotFoundError):
        executor_for(TaskType.BASH, handler).execute(task)
    assert task.is_failed and task.result.termination_reason == "handler"


# -- PowerShell ---------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("pwsh") is not None, reason="pwsh is installed here")
def test_powershell_without_pwsh_fails_fast():
    task = Task.powershell("Write-Output hi")
    with pytest.raises(HandlerUnavailableError, match="PowerShell tasks need `pwsh` on PATH"):
        TaskExecutor().execute(task)
    assert task.is_failed and task.result.termination_reason == "handler"


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh is not installed here")
def test_powershell_runs_with_pwsh():
    assert TaskExecutor().execute(Task.powershell("Write-Output hi")).output.strip() == "hi"


# -- prompt: an OpenAI-compatible endpoint on 127.0.0.1 -------------------------------------
class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.requests: list[tuple[str, dict, dict]] = []
        self.reply: tuple[int, object] = (200, None)
        self.release = threading.Event()
        self.release.set()


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))
        self.server.release.wait(5)
        status, payload = self.server.reply
        if payload is None:
            text = f"echo: {body['messages'][0]['content']}"
            payload = {"choices": [{"message": {"role": "assistant", "content": text}}]}
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def chat_server():
    server = ChatServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def url_of(server: ChatServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/v1"


def test_http_prompt_handler_against_a_real_server(chat_server):
    handler = make_http_prompt_handler(url_of(chat_server), model="tiny", api_key="sekrit")
    task = Task.prompt("What is a DAG?")
    result = executor_for(TaskType.PROMPT, handler).execute(task)
    assert result.output == "echo: What is a DAG?" and task.is_done
    path, headers, body = chat_server.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sekrit"
    assert body == {
        "model": "tiny",
        "messages": [{"role": "user", "content": "What is a DAG?"}],
        "stream": True,  # this server ignores it and answers JSON: read whole
        "stream_options": {"include_usage": True},
    }


def test_http_prompt_handler_errors(chat_server):
    handler = make_http_prompt_handler(url_of(chat_server), model="tiny")
    ex = executor_for(TaskType.PROMPT, handler)
    chat_server.reply = (500, {"error": "overloaded"})
    with pytest.raises(RuntimeError, match=r"failed on its side \(HTTP 500\): overloaded"):
        ex.execute(Task.prompt("x"))
    chat_server.reply = (200, {"choices": []})
    with pytest.raises(RuntimeError, match=r"without choices\[0\].message.content"):
        ex.execute(Task.prompt("x"))
    chat_server.reply = (200, "not json")
    with pytest.raises(RuntimeError, match="did not answer JSON"):
        ex.execute(Task.prompt("x"))
    assert "Authorization" not in chat_server.requests[0][1]


def test_http_prompt_timeout(chat_server):
    chat_server.release.clear()  # the server holds the answer
    handler = make_http_prompt_handler(url_of(chat_server), model="tiny")
    task = Task.prompt("slow", timeout=0.2)
    with pytest.raises(TaskTimeoutError, match="timed out after 0.2 seconds"):
        executor_for(TaskType.PROMPT, handler).execute(task)
    assert task.result.termination_reason == "timeout"


def test_unreachable_endpoint():
    handler = make_http_prompt_handler("http://127.0.0.1:9/v1", model="tiny")
    with pytest.raises(RuntimeError, match="cannot reach LLM endpoint"):
        executor_for(TaskType.PROMPT, handler).execute(Task.prompt("x"))


def test_http_prompt_argument_checks():
    with pytest.raises(ValueError, match="base_url must be an http"):
        make_http_prompt_handler("ftp://x", model="m")
    with pytest.raises(ValueError, match="model must not be empty"):
        make_http_prompt_handler("http://x", model="")
    with pytest.raises(ValueError, match="timeout must be greater than 0"):
        make_http_prompt_handler("http://x", model="m", timeout=0)


def test_default_prompt_handler_uses_webapp_llm_url(chat_server, monkeypatch):
    monkeypatch.setenv("WEBAPP_LLM_URL", url_of(chat_server))
    monkeypatch.setenv("WEBAPP_LLM_MODEL", "env-model")
    result = TaskExecutor().execute(Task.prompt("hello"))
    assert result.output == "echo: hello"
    assert chat_server.requests[0][2]["model"] == "env-model"
    monkeypatch.delenv("WEBAPP_LLM_MODEL")
    with pytest.raises(HandlerUnavailableError, match="WEBAPP_LLM_MODEL is not"):
        TaskExecutor().execute(Task.prompt("hello"))


@pytest.mark.skipif(copilot_available(), reason="the Copilot SDK is installed here")
def test_prompt_and_agent_without_any_provider_fail_fast(monkeypatch):
    for name in ("WEBAPP_LLM_URL", "WEBAPP_AGENT_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    prompt, agent = Task.prompt("x"), Task.agent("x")
    with pytest.raises(HandlerUnavailableError, match="WEBAPP_LLM_URL.*webapp\\[copilot\\]"):
        TaskExecutor().execute(prompt)
    with pytest.raises(HandlerUnavailableError, match="WEBAPP_AGENT_COMMAND.*webapp\\[copilot\\]"):
        TaskExecutor().execute(agent)
    assert prompt.result.termination_reason == agent.result.termination_reason == "handler"


@pytest.mark.skipif(copilot_available(), reason="the Copilot SDK is installed here")
def test_copilot_handlers_without_the_sdk_name_what_to_install():
    for handler in (make_copilot_prompt_handler(), make_copilot_agent_handler()):
        task = Task.prompt("x")
        with pytest.raises(HandlerUnavailableError, match="pip install 'webapp\\[copilot\\]'"):
            executor_for(TaskType.PROMPT, handler).execute(task)
        assert task.is_failed and task.result.termination_reason == "handler"


def test_copilot_argument_checks():
    with pytest.raises(ValueError, match="model must not be empty"):
        make_copilot_prompt_handler(model="")
    with pytest.raises(ValueError, match="timeout must be greater than 0"):
        make_copilot_prompt_handler(timeout=0)
    with pytest.raises(ValueError, match="model must not be empty"):
        make_copilot_agent_handler(model=" ")


# -- agent CLIs ------------------------------------------------------------------------------------
def test_cli_agent_handler_runs_through_the_runner():
    handler = make_cli_agent_handler(["bash", "-c", 'echo "agent got: $1"', "agent", "{payload}"])
    result = executor_for(TaskType.AGENT, handler).execute(Task.agent("fix {the} bug; rm -rf /"))
    assert result.output == "agent got: fix {the} bug; rm -rf /\n"  # one argv item, no shell


def test_cli_agent_command_line_appends_payload_and_reports_failure():
    handler = make_cli_agent_handler("bash -c 'echo $0; exit 3'")
    task = Task.agent("instruction")
    with pytest.raises(TaskExecutionError, match="exited with code 3"):
        executor_for(TaskType.AGENT, handler).execute(task)
    assert task.result.output == "instruction\n" and task.result.termination_reason == "exit_code"


def test_cli_agent_missing_program(tmp_path, monkeypatch):
    handler = make_cli_agent_handler("claude")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HandlerUnavailableError, match="AGENT tasks need `claude` on PATH"):
        executor_for(TaskType.AGENT, handler).execute(Task.agent("x"))
    with pytest.raises(ValueError, match="agent command"):
        make_cli_agent_handler([])


def test_default_agent_handler_uses_webapp_agent_command(monkeypatch):
    monkeypatch.setenv("WEBAPP_AGENT_COMMAND", "bash -c 'echo did: $0'")
    assert TaskExecutor().execute(Task.agent("the thing")).output == "did: the thing\n"
