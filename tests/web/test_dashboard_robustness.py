"""No user input makes a dashboard page answer 500: odd IDs, prefixes and query values."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import orchestration

SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30
) | st.sampled_from(["..", ".", "k", "k3", "ZZZZZ", "i0000", "%2e%2e", "a" * 300, "\\", "new"])
VALUE = st.text(max_size=40) | st.sampled_from(["-1", "0", "99999999999999999999", "1e9", "all"])
PAGES = [
    "/projects/{p}",
    "/projects/{p}/rows",
    "/projects/{p}/tasks/{t}",
    "/projects/{p}/tasks/{t}/status",
    "/projects/{p}/tasks/{t}/log",
    "/projects/{p}/tasks/{t}/log/download",
    "/projects/{p}/tasks/{t}/rename",
    "/projects/{p}/tasks/{t}/delete",
    "/projects/{p}/archive",
    "/projects/{p}/archive/{t}",
    "/projects/{p}/archive/{t}/log",
    "/projects/{p}/search",
    "/projects/{p}/bulk-matching",
]
ARGS = ["status", "type", "q", "page", "offset", "end", "run", "v", "project_id", "task_id",
        "sort", "after", "before", "last", "exit", "from", "to", "line", "in", "action",
        "started_by", "workflow"]  # fmt: skip
SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def seed() -> str:
    orchestration.project_create("demo", actor="test")
    return orchestration.task_new("demo", name="t", payload="echo hi", actor="test").task_id


@SETTINGS
@given(
    page=st.sampled_from(PAGES),
    project=st.sampled_from(["demo", None]),
    segment=SEGMENT,
    args=st.dictionaries(st.sampled_from(ARGS), VALUE, max_size=4),
    real_task=st.booleans(),
)
def test_no_page_answers_500(admin_client, bound, page, project, segment, args, real_task):
    if orchestration.project_list() == []:
        seed()
    task = orchestration.task_list("demo").items[0].task_id if real_task else segment
    url = page.format(p=quote(project or segment, safe=""), t=quote(task, safe=""))
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in args.items())
    for headers in ({}, {"X-Log-Fragment": "1", "HX-Request": "true"}):
        with admin_client.get(f"{url}?{query}", headers=headers) as response:
            assert response.status_code < 500, (url, query, response.get_data(as_text=True))


@SETTINGS
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "payload",
                "name",
                "timeout",
                "description",
                "project_id",
                "shutdown_grace",
                "max_concurrent",
                "name_categories",
                "git_repo",
                "env",
                "action",
                "task",
                "next",
                "confirm",
            ]
        ),
        VALUE,
        max_size=6,
    ),
    target=st.sampled_from(["/projects", "/projects/demo/tasks/new", "/projects/demo/bulk"]),
)
def test_no_form_answers_500(admin_client, bound, form, target):
    if orchestration.project_list() == []:
        seed()
    response = admin_client.post(target, data=form)
    assert response.status_code < 500, (target, form, response.get_data(as_text=True))
