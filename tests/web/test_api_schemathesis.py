"""Schemathesis against /api/v1/openapi.json: no generated request gets a 5xx.

Valid and invalid input alike. Small on purpose (a few examples per operation, in-process
over WSGI; about 6 s, the slowest API test, because schemathesis builds a strategy per
operation): a guard against unhandled input, not a load test. The admin's token is sent,
so every operation reaches its handler, and half the cases aim their path at the project
and task that exist, so bodies and query parameters are checked past a random ID's 404.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from webapp import orchestration
from webapp.orchestration import workflows

EXAMPLES_PER_OPERATION = 8


def test_generated_requests_never_get_a_server_error(app, api_headers, demo_task):
    headers = api_headers("admin")
    graph = orchestration.graph_new("demo", {"tasks": [{"key": "a", "payload": "true"}]})
    saved = workflows.workflow_save("demo", {"title": "w", "tasks": [{"key": "a", "payload": "x"}]})
    known = {
        "workflow": saved.workflow_id,
        "project": "demo",
        "task": demo_task.task_id,
        "archive": demo_task.task_id,
        "graph": graph.graph_id,
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    calls: list[int] = []

    def check(case, aim_at_known: bool) -> None:
        if aim_at_known and case.path_parameters:
            case.path_parameters.update(
                {name: value for name, value in known.items() if name in case.path_parameters}
            )
        response = case.call(headers=headers)
        calls.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
        run = settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )(given(case=cases, aim_at_known=st.booleans())(check))
        run()
    assert failures == []
    assert len(calls) >= 5 * len(operations)
    assert sum(200 <= status < 300 for status in calls) >= len(operations)
