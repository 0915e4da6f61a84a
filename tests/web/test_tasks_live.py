"""The live log over HTTP: appends by byte offset, earlier windows, search, download."""

from __future__ import annotations

import re

from webapp import orchestration

FRAGMENT = {"X-Log-Fragment": "1"}
BIG_LOG = "seq 1 8000 | awk '{printf \"line %05d %060d\\n\", $1, 0}'"  # ~600 KB


def new_task(payload: str, name: str = "logger"):
    return orchestration.task_new("demo", name=name, payload=payload, actor="test")


def log_url(task) -> str:
    return f"/projects/demo/tasks/{task.task_id}/log"


def footer_written(task) -> bool:
    """The worker appends its exit note just after the run's end is saved."""
    return "[webapp] exited with code" in orchestration.read_task_log("demo", task.task_id).text


def test_log_fragments_append_only_new_bytes_and_say_when_done(
    operator_client, project, run_to_end, wait_for
):
    task = new_task("echo first; echo second >&2")
    queued = operator_client.get(log_url(task) + "?offset=0", headers=FRAGMENT)
    assert queued.status_code == 204 and queued.headers["X-Log-Done"] == "0"
    run_to_end("demo", task.task_id)
    wait_for(lambda: footer_written(task))
    response = operator_client.get(log_url(task) + "?offset=0", headers=FRAGMENT)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith("first\n")
    assert '<span class="stderr" data-stream="stderr">second\n</span>' in body
    size = int(response.headers["X-Log-Size"])
    assert int(response.headers["X-Log-Next-Offset"]) == size
    assert response.headers["X-Log-Done"] == "1"
    again = operator_client.get(log_url(task) + f"?offset={size}", headers=FRAGMENT)
    assert again.status_code == 204 and again.headers["X-Log-Done"] == "1"
    partial = operator_client.get(log_url(task) + "?offset=6", headers=FRAGMENT)
    assert partial.get_data(as_text=True).startswith('<span class="stderr"')


def test_output_is_escaped_and_coloured(operator_client, project, run_to_end):
    task = new_task(r"printf '\033[32m<script>alert(1)</script>\033[0m done\n'")
    run_to_end("demo", task.task_id)
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert '<span class="ansi32">&lt;script&gt;alert(1)&lt;/script&gt;</span> done' in html
    assert "<script>alert" not in html
    assert 'href="/static/vendor/ansi.css"' in html


def test_the_task_page_shows_output_written_since_it_was_last_shown(
    operator_client, project, run_to_end
):
    task = new_task("echo first")
    run_to_end("demo", task.task_id)
    page = f"/projects/demo/tasks/{task.task_id}"
    assert "first" in operator_client.get(page).get_data(as_text=True)
    with orchestration.task_log_path("demo", task.task_id).open("ab") as log:
        log.write(b"second <b>\n")  # as a worker appends to a running task's log
    for _ in range(2):  # read from the file, then from what the first read rendered
        html = operator_client.get(page).get_data(as_text=True)
        log_html = html[html.index('id="log-output"') :].split("</pre>")[0]
        assert "first\n" in log_html and "second &lt;b&gt;\n" in log_html


def test_a_big_log_shows_its_last_256_kb_with_a_way_to_earlier_output(
    operator_client, project, run_to_end
):
    task = new_task(BIG_LOG)
    run_to_end("demo", task.task_id)
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    log = html[html.index('<pre class="log" id="log-output"') :].split("</pre>")[0]
    assert "line 08000" in log and "line 00001" not in log
    assert 250_000 < len(log) < 300_000
    earlier = re.search(r'href="([^"]+/log\?end=(\d+))" data-log-earlier', html)
    assert earlier, "no load-earlier link"
    end = int(earlier.group(2))
    window = operator_client.get(earlier.group(1).replace("&amp;", "&"), headers=FRAGMENT)
    assert int(window.headers["X-Log-Next-Offset"]) == end
    assert int(window.headers["X-Log-Offset"]) == max(0, end - 256 * 1024)
    page = operator_client.get(earlier.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "<!doctype html>" in page.get_data(as_text=True)
    first = operator_client.get(log_url(task) + "?end=1000", headers=FRAGMENT)
    assert first.get_data(as_text=True).startswith("line 00001")


def test_search_lists_matching_lines_and_marks_them(operator_client, project, run_to_end):
    task = new_task("echo alpha; echo Needle here; echo beta; echo another NEEDLE >&2")
    run_to_end("demo", task.task_id)
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}?q=needle").get_data(
        as_text=True
    )
    assert "2 lines match" in html
    assert "line 2</a>" in html and "line 4</a>" in html
    assert html.count("<mark>") >= 4  # in the match list and in the shown log
    assert 'data-query="needle"' in html


def test_download_gives_the_whole_plain_log(operator_client, project, run_to_end):
    task = new_task(r"printf '\033[1mbold\033[0m\n'")
    run_to_end("demo", task.task_id)
    with operator_client.get(log_url(task) + "/download") as response:
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.data.startswith(b"\x1b[1mbold\x1b[0m\n")


def test_bad_offsets_are_400_not_500(operator_client, project):
    task = new_task("true")
    assert operator_client.get(log_url(task) + "?offset=-1", headers=FRAGMENT).status_code == 400
    assert operator_client.get(log_url(task) + "?end=abc").status_code == 400


def test_ansi_stylesheet_is_served(operator_client):
    response = operator_client.get("/static/vendor/ansi.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert b".log .ansi32" in response.data
    assert "max-age=3600" in response.headers["Cache-Control"]  # one download per hour


def test_a_log_poll_reads_the_task_row_once_and_never_its_output_tail(
    app, operator_client, project, run_to_end
):
    task = new_task("echo polled")
    run_to_end("demo", task.task_id)
    statements: list[str] = []
    db = orchestration.settings_of(app).store.db  # this thread's connection: the request's
    db.conn.set_trace_callback(statements.append)
    try:
        response = operator_client.get(log_url(task) + "?offset=0", headers=FRAGMENT)
    finally:
        db.conn.set_trace_callback(None)
    assert response.status_code == 200 and response.get_data(as_text=True).startswith("polled")
    row_reads = [s for s in statements if "task_records" in s]
    assert len(row_reads) == 1, statements
    assert not any("task_results" in s for s in statements), statements
