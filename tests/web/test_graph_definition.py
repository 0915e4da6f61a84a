"""Reading workflow definitions: every problem is named by where it is and what is wrong."""

from __future__ import annotations

import pytest

from webapp.web.graph_definition import (
    DefinitionInvalid,
    check_definition,
    find_cycle,
    parse_text,
)


def problems_of(data) -> list[str]:
    with pytest.raises(DefinitionInvalid) as caught:
        check_definition(data)
    return [str(problem) for problem in caught.value.problems]


def test_a_good_definition_comes_back_ready_for_orchestration():
    definition = check_definition(
        {
            "title": "ci",
            "tasks": [
                {"id": "fetch", "payload": "git pull"},
                {"key": "test", "payload": "make test", "after": ["fetch"], "timeout": 60},
                {"key": "report", "payload": "x", "after": ["test"], "finally": True,
                 "required": False, "name": "Final Report"},
            ],
        }
    )  # fmt: skip
    assert definition["title"] == "ci"
    fetch, test, report = definition["tasks"]
    assert fetch == {
        "key": "fetch",
        "payload": "git pull",
        "type": "bash",
        "name": "fetch",
        "description": "",
        "after": [],
        "finally": False,
        "required": True,
    }
    assert test["after"] == ["fetch"] and test["timeout"] == 60.0
    assert report["name"] == "final-report" and report["required"] is False


def test_a_bare_list_of_tasks_and_a_title_from_the_form():
    definition = check_definition([{"key": "a", "payload": "true"}], title="  nightly ")
    assert definition["title"] == "nightly" and len(definition["tasks"]) == 1
    assert check_definition([{"key": "a", "payload": "true"}])["title"] == "workflow"


def test_unknown_dependency_names_the_task_the_field_and_the_known_keys():
    tasks = [{"key": "a", "payload": "x"}, {"key": "b", "payload": "y", "after": ["a", "zz"]}]
    found = problems_of({"tasks": tasks})
    assert found == ['tasks[1] "b" → after: unknown dependency "zz" (known keys: a)']


def test_a_cycle_is_named_step_by_step():
    found = problems_of(
        {
            "tasks": [
                {"key": "start", "payload": "x"},
                {"key": "a", "payload": "x", "after": ["start", "c"]},
                {"key": "b", "payload": "x", "after": ["a"]},
                {"key": "c", "payload": "x", "after": ["b"]},
                {"key": "d", "payload": "x", "after": ["c"]},
            ]
        }
    )
    assert len(found) == 1
    assert found[0].startswith("definition: the tasks form a cycle: ")
    steps = found[0].split(": ", 2)[2]
    assert steps == '"a" runs after "c", "c" runs after "b", "b" runs after "a"'
    assert "start" not in found[0] and '"d"' not in found[0]


def test_bad_type_and_other_field_problems_are_reported_together():
    found = problems_of(
        {
            "tasks": [
                {"key": "a", "payload": "x", "type": "zsh"},
                {"key": "b", "payload": "", "after": ["nope"]},
                {"key": "c", "payload": "x", "timeout": -1, "finally": "yes"},
                {"key": "a", "payload": "x"},
                {"payload": "x", "colour": "red"},
                "not a task",
                {"key": "d", "payload": "x", "required": False},
            ]
        }
    )
    assert 'tasks[0] "a" → type: unknown type \'zsh\'; choose one of: bash, powershell, prompt, ' \
        "agent" in found  # fmt: skip
    assert 'tasks[1] "b" → payload: must not be empty' in found
    assert 'tasks[1] "b" → after: unknown dependency "nope" (known keys: a, c, d)' in found
    assert 'tasks[2] "c" → timeout: must be more than 0 and at most 604800 seconds' in found
    assert 'tasks[2] "c" → finally: must be true or false, not a string' in found
    assert 'tasks[3] "a": duplicate key (tasks[0] has it too)' in found
    assert "tasks[4] → key: is required" in found
    assert any(p.startswith("tasks[4]: unknown field(s) colour") for p in found)
    assert "tasks[5]: must be an object, not a string" in found
    assert 'tasks[6] "d" → required: false is only allowed on a finally task' in found


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "definition: must be"),
        ({"tasks": []}, "definition → tasks: must be a list of 1 to 10000 tasks"),
        ({"title": "x"}, "definition → tasks: must be a list"),
        ({"tasks": [{"key": "a", "payload": "x"}], "owner": 1}, "unknown field(s) owner"),
        ({"title": 5, "tasks": [{"key": "a", "payload": "x"}]}, "title: must be a string"),
        ([{"key": "a", "id": "b", "payload": "x"}], "give either 'key' or 'id', not both"),
        ([{"key": "a", "payload": "x", "after": "b"}], "after: must be a list of task keys"),
        ([{"key": "a", "payload": "x", "after": ["a"]}], "a task cannot run after itself"),
        ([{"key": "a", "payload": "x", "timeout": float("inf")}], "timeout: must be more"),
        ([{"key": "a", "payload": "x", "timeout": True}], "timeout: must be a number"),
        ([{"key": "a", "payload": "a\x00b"}], "payload: must not contain NUL"),
        ([{"key": "a", "payload": "\ud800"}], "payload: must be valid Unicode"),
        ([{"key": "a", "payload": "x", "name": "!!!"}], "name: Invalid task name"),
    ],
)
def test_each_kind_of_problem_says_what_is_wrong(data, message):
    assert any(message in problem for problem in problems_of(data)), problems_of(data)


def test_bad_json_names_its_line_and_column():
    with pytest.raises(DefinitionInvalid, match=r"line 2, column \d+: not valid JSON"):
        parse_text('{"tasks": [\n  {"key": "a",, }]}')
    with pytest.raises(DefinitionInvalid, match="Paste a workflow definition"):
        parse_text("   ")
    with pytest.raises(DefinitionInvalid, match="nested too deeply"):
        parse_text("[" * 100_000)


def test_find_cycle():
    assert find_cycle({"a": [], "b": ["a"]}) is None
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]


def test_an_unknown_dependency_among_many_keys_names_twenty_and_counts_the_rest():
    tasks = [{"key": f"k{i}", "payload": "x"} for i in range(30)]
    tasks[0]["after"] = ["zz"]
    (found,) = problems_of({"tasks": tasks})
    assert found.endswith("(known keys: k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, "
                          "k14, k15, k16, k17, k18, k19, k20 and 9 more)")  # fmt: skip
