"""Projects overview, creating projects, and a project's task list (filters, pages, polls)."""

from __future__ import annotations

import re

from webapp import orchestration
from webapp.accounts import audit


def new_task(name: str, payload: str = "echo hi", **kwargs):
    return orchestration.task_new("demo", name=name, payload=payload, actor="test", **kwargs)


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="task-([a-z0-9]{5})"', html)


def test_projects_list_shows_counts_by_status(operator_client, project):
    first = new_task("one")
    new_task("two")
    orchestration.task_stop("demo", first.task_id, actor="test")
    html = operator_client.get("/projects").get_data(as_text=True)
    assert "Demo project" in html
    assert re.search(r"1 cancelled", html) and re.search(r"1 queued", html)
    assert 'href="/projects/demo?status=queued"' in html


def test_root_leads_to_the_projects_overview(operator_client, project):
    response = operator_client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert "Demo project" in response.get_data(as_text=True)


def test_create_project_redirects_to_its_page(admin_client, bound, accounts_db):
    response = admin_client.post(
        "/projects", data={"project_id": "backend", "name": "Backend", "shutdown_grace": "3"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/projects/backend")
    assert orchestration.project_get("backend").shutdown_grace == 3.0
    page = admin_client.get("/projects/backend").get_data(as_text=True)
    assert "No tasks yet" in page
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.actor, entry.action, entry.target) == ("admin", "project.create", "backend")


def test_only_admins_create_projects(operator_client, admin_client, bound):
    assert "New project" not in operator_client.get("/projects").get_data(as_text=True)
    assert "New project" in admin_client.get("/projects").get_data(as_text=True)
    response = operator_client.post("/projects", data={"project_id": "backend"})
    assert response.status_code == 403 and "admin role" in response.get_data(as_text=True)
    assert orchestration.project_list() == []


def test_invalid_project_keeps_input_and_names_the_problem_by_the_field(admin_client, bound):
    response = admin_client.post(
        "/projects", data={"project_id": "Bad ID!", "name": "Kept name", "env": "NOEQUALS"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="Kept name"' in html and 'value="Bad ID!"' in html
    assert "expected NAME=value" in html
    response = admin_client.post("/projects", data={"project_id": "Bad ID!"})
    html = response.get_data(as_text=True)
    assert re.search(r'id="project_id".*?Invalid project ID', html, re.S)


def test_duplicate_project_is_refused_next_to_the_id(admin_client, project):
    response = admin_client.post("/projects", data={"project_id": "demo"})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_unknown_project_is_a_404_naming_it(operator_client, bound):
    response = operator_client.get("/projects/nope")
    assert response.status_code == 404
    assert "nope" in response.get_data(as_text=True)


def test_task_list_is_newest_first_with_its_columns(operator_client, project):
    older = new_task("older", "sleep 1")
    newer = new_task("newer", "printf 'a very long command' && echo done", type="bash")
    html = operator_client.get("/projects/demo").get_data(as_text=True)
    assert row_ids(html) == [newer.task_id, older.task_id]
    row = html[html.index(f'id="task-{newer.task_id}"') :].split("</tr>")[0]
    assert "newer" in row and "bash" in row and "queued" in row and 'icons.svg#queued"' in row
    assert "printf" in row and "test" in row  # command excerpt, started by


def test_filters_and_search_live_in_the_url(operator_client, project):
    tasks = {name: new_task(name, f"echo {name}") for name in ("alpha", "beta", "gamma")}
    orchestration.task_stop("demo", tasks["beta"].task_id, actor="test")
    html = operator_client.get("/projects/demo?status=cancelled").get_data(as_text=True)
    assert row_ids(html) == [tasks["beta"].task_id]
    assert '<option value="cancelled" selected>' in html
    html = operator_client.get("/projects/demo?q=gam").get_data(as_text=True)
    assert row_ids(html) == [tasks["gamma"].task_id]
    assert 'value="gam"' in html
    html = operator_client.get(f"/projects/demo?q={tasks['alpha'].task_id[:4]}").get_data(
        as_text=True
    )
    assert tasks["alpha"].task_id in row_ids(html)
    html = operator_client.get("/projects/demo?type=prompt").get_data(as_text=True)
    assert row_ids(html) == [] and "No task matches these filters" in html


def test_bad_filter_values_are_400_naming_the_choices(operator_client, project):
    response = operator_client.get("/projects/demo?status=sleeping")
    assert response.status_code == 400
    assert "queued" in response.get_data(as_text=True)
    for bad in ("sort=colour", "exit=abc", "from=yesterday", "after=%21%21", "after=abc"):
        response = operator_client.get(f"/projects/demo?{bad}")
        assert response.status_code == 400, bad
    assert "sort by one of" in operator_client.get("/projects/demo?sort=x").get_data(as_text=True)


def test_pagination_keeps_the_filters(operator_client, project):
    for n in range(55):
        new_task(f"t{n}", "echo x")
    html = operator_client.get("/projects/demo?type=bash").get_data(as_text=True)
    first = row_ids(html)
    assert len(first) == 50 and "55 matching" in html
    next_url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "type=bash" in next_url and "after=" in next_url
    html = operator_client.get(next_url).get_data(as_text=True)
    second = row_ids(html)
    assert len(second) == 5 and not set(first) & set(second)
    assert 'rel="first" href="/projects/demo?type=bash"' in html  # back to the first page
    last = operator_client.get("/projects/demo?type=bash&last=1").get_data(as_text=True)
    assert row_ids(last) == (first + second)[-50:]  # the oldest 50
    prev = re.search(r'rel="prev" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert row_ids(operator_client.get(prev).get_data(as_text=True)) == first


def test_rows_poll_is_204_until_something_changes(operator_client, project):
    task = new_task("watched")
    html = operator_client.get("/projects/demo?status=queued").get_data(as_text=True)
    poll = re.search(r'hx-get="(/projects/demo/rows\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "status=queued" in poll
    unchanged = operator_client.get(poll, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204 and unchanged.data == b""
    orchestration.task_stop("demo", task.task_id, actor="test")
    changed = operator_client.get(poll, headers={"HX-Request": "true"})
    assert changed.status_code == 200
    body = changed.get_data(as_text=True)
    assert row_ids(body) == []  # the stopped task left the "queued" view
    assert 'id="task-counts" class="counts" hx-swap-oob="true"' in body
    assert "1 cancelled" in body
    assert 'id="task-pager" class="pager" aria-label="Pages" hx-swap-oob="true"' in body
    new_poll = re.search(r'hx-get="(/projects/demo/rows\?[^"]+)"', body).group(1)
    assert new_poll != poll


def test_viewer_reads_the_list_but_gets_no_action_controls(viewer_client, project):
    new_task("visible")
    html = viewer_client.get("/projects/demo").get_data(as_text=True)
    assert "visible" in html
    assert "Delete selected" not in html and "data-new-task" not in html
    assert viewer_client.get("/projects/demo/tasks/new").status_code == 403


def test_rows_escape_what_users_typed_and_match_the_table_head(operator_client, project):
    new_task("quoted", "echo \"<b>bold</b>\" & echo 'done'\nsecond line")
    html = operator_client.get("/projects/demo").get_data(as_text=True)
    head = html[html.index("<thead>") : html.index("</thead>")]
    row = html[html.index('<tr id="task-') :].split("</tr>")[0]
    assert row.count("<td") == len(re.findall(r"<th[ >]", head)) == 10
    assert "<b>" not in row
    assert 'title="echo &#34;&lt;b&gt;bold&lt;/b&gt;&#34; &amp; echo &#39;done&#39;' in row
    assert "echo &#34;&lt;b&gt;bold&lt;/b&gt;&#34; &amp; echo &#39;done&#39; …</td>" in row


def test_column_headers_sort_and_filters_live_in_the_url(operator_client, project):
    for name in ("charlie", "alpha", "bravo"):
        new_task(name)
    orchestration.task_new("demo", name="delta", payload="true", actor="someone-else")
    html = operator_client.get("/projects/demo?sort=name").get_data(as_text=True)
    names = re.findall(r'<td class="name">([^<]+)</td>', html)
    assert names == ["alpha", "bravo", "charlie", "delta"]
    assert '<th aria-sort="ascending"><a href="/projects/demo?sort=-name"' in html
    assert '<th aria-sort="none"><a href="/projects/demo?sort=-type"' in html
    html = operator_client.get("/projects/demo?sort=-name&started_by=test").get_data(as_text=True)
    assert re.findall(r'<td class="name">([^<]+)</td>', html) == ["charlie", "bravo", "alpha"]
    assert 'name="started_by" value="test"' in html
    assert 'href="/projects/demo?started_by=test&amp;sort=name"' in html  # keeps the filter
