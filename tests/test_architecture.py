"""The map holds: imports point one way, every concept has one home, modules stay small.

These read the source (``ast``), so they fail on the commit that breaks a rule, whatever
the tests of the rooms cover.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp import create_app, limits
from webapp.cli import main
from webapp.engine import TASK_TYPES, TaskStatus, TaskType
from webapp.orchestration.status import UI_STATUSES
from webapp.web.api.schemas import COMPONENTS, GRAPH_TASK, TASK_CREATE
from webapp.web.forms import TaskForm

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "webapp"
MAX_MODULE_LINES = 400


def modules(under: str = "") -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module of ours that ``path`` imports (``from webapp import x`` counts as
    ``webapp.x`` when x is a module, else ``webapp``), at any depth (lazy imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / candidate.replace(".", "/") / "__init__.py"
                ).exists()
                names.add(candidate if is_module else node.module)
    return {name for name in names if name == "webapp" or name.startswith("webapp.")}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- imports point one way -----------------------------------------------------------------
def test_the_web_never_imports_the_store():
    offenders = {
        rel(path): sorted(name for name in imported(path) if name.startswith("webapp.store"))
        for path in modules("web")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_engine_imports_nothing_of_ours_but_itself():
    offenders = {
        rel(path): sorted(n for n in imported(path) if not n.startswith("webapp.engine"))
        for path in modules("engine")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_store_imports_only_itself_and_the_engine():
    def allowed(name: str) -> bool:
        return name.startswith(("webapp.store", "webapp.engine"))

    offenders = {
        rel(path): sorted(n for n in imported(path) if not allowed(n)) for path in modules("store")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_lower_room_imports_a_higher_one():
    higher = {
        "orchestration": ("webapp.web", "webapp.worker", "webapp.cli"),
        "accounts": ("webapp.web", "webapp.worker", "webapp.cli", "webapp.orchestration"),
        "worker": ("webapp.web", "webapp.cli"),
    }
    offenders = {}
    for room, banned in higher.items():
        for path in modules(room):
            bad = sorted(n for n in imported(path) if n.startswith(banned))
            if bad:
                offenders[rel(path)] = bad
    assert offenders == {}


# -- one home per concept --------------------------------------------------------------------
def test_web_api_and_cli_offer_exactly_the_engines_task_types():
    engine = [kind.value for kind in TaskType]
    assert list(TASK_TYPES) == engine
    assert [choice.value for choice in TaskForm.type.kwargs["choices"]] == engine
    assert TASK_CREATE["properties"]["type"]["enum"] == engine
    assert GRAPH_TASK["properties"]["type"]["enum"] == engine
    app = create_app({"TESTING": True, "WORKER_ENABLED": False, "SECRET_KEY": "t"})
    assert list(app.jinja_env.globals["TASK_TYPES"]) == engine
    usage = CliRunner().invoke(main, ["task", "new", "--help"]).output
    assert f"[{'|'.join(engine)}]" in usage.replace("\n", "").replace(" ", "")
    assert all(kind.label for kind in TaskType)
    assert "Task" in COMPONENTS


def test_every_ui_status_has_one_display_and_the_engines_map_to_them():
    from webapp.orchestration.status import derive_status
    from webapp.web.display import STATUS_DISPLAY

    assert set(UI_STATUSES) <= set(STATUS_DISPLAY)
    assert {derive_status(status) for status in TaskStatus} <= set(UI_STATUSES)


def literal_strings(node: ast.AST) -> list[str]:
    return [
        elt.value
        for elt in getattr(node, "elts", [])
        if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
    ]


def collections_in(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            yield node.lineno, set(literal_strings(node))


@pytest.mark.parametrize(
    ("concept", "values", "threshold", "home"),
    [
        ("task types", {kind.value for kind in TaskType}, 2, "webapp/engine/task.py"),
        ("UI statuses", set(UI_STATUSES), 4, "webapp/orchestration/status.py"),
        ("engine statuses", {s.value for s in TaskStatus}, 4, "webapp/engine/task.py"),
    ],
)
def test_each_list_is_written_out_once(concept, values, threshold, home):
    """No list, tuple or set literal outside the concept's home spells out its values (a
    collection of at least ``threshold`` of them and nothing else)."""
    copies = [
        f"{rel(path)}:{line}"
        for path in modules()
        if rel(path) != home
        for line, strings in collections_in(path)
        if len(strings) >= threshold and strings <= values
    ]
    assert copies == [], f"{concept} written out outside {home}"


def limit_names() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(limits).items()
        if name.isupper() and isinstance(value, int)
    }


def test_each_limit_is_defined_once():
    """No module-level MAX/LIMIT constant elsewhere repeats a value of ``webapp.limits``."""
    values = set(limit_names().values())
    copies = []
    for path in modules():
        if rel(path) == "webapp/limits.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0]
            if not (isinstance(target, ast.Name) and re.search(r"MAX|LIMIT", target.id)):
                continue
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue  # computed from a name: imported, not written out
            if value in values:
                copies.append(f"{rel(path)}: {target.id} = {value!r}")
    assert copies == []


def test_templates_take_their_input_limits_from_the_limits_module():
    written = [
        f"{path.relative_to(ROOT)}: {match}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in re.findall(r'(?:maxlength|max)="\d+"', path.read_text())
    ]
    assert written == []


def test_the_engines_result_is_set_only_through_its_public_method_outside_the_engine():
    private = [
        rel(path)
        for path in modules()
        if not rel(path).startswith("webapp/engine/") and "._set_result(" in path.read_text()
    ]
    assert private == []


# -- wiring ------------------------------------------------------------------------------------
def test_each_concern_is_wired_once_and_blueprints_in_one_place():
    app = create_app({"TESTING": True, "WORKER_ENABLED": False, "SECRET_KEY": "t"})
    hooks = [f.__name__ for f in app.before_request_funcs.get(None, [])]
    assert hooks.count("bind_settings") == 1
    registering = [rel(path) for path in modules() if ".register_blueprint(" in path.read_text()]
    assert registering == ["webapp/web/__init__.py"]
    assert app.extensions["htmx"] is not None


def test_htmx_requests_are_recognised_through_request_htmx_only():
    raw = [rel(path) for path in modules() if "HX-Request" in path.read_text()]
    assert raw == []


# -- size ------------------------------------------------------------------------------------
def test_no_module_exceeds_400_lines():
    long = {
        rel(path): n
        for path in modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
