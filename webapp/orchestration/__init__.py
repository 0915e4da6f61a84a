"""The task lifecycle of seed 000 (terok's tasks package) on SQLite.

Seed 000's names keep their signatures where they apply without containers, extended with
keyword arguments (``task_new(project_id, *, name=None, type="bash", payload=...)``). Where
the seed raises SystemExit, these raise the exceptions of :mod:`.errors` (LookupError and
ValueError subclasses) with the same actionable messages. Every function works on the
settings bound with :func:`bind` (the web binds per request, the worker per thread).

This package's surface is deliberately small; everything else is imported from its module
(``from webapp.orchestration.errors import TaskNotFound``):

- seed 000's names: ``task_new task_list task_status task_stop task_rename task_delete
  task_archive_logs get_task_meta get_tasks get_all_task_states resolve_task_id is_task_id
  normalize_task_id_input generate_task_name sanitize_task_name validate_task_name
  TASK_NAME_MAX_LEN mark_task_deleting update_task_exit_code list_archived_tasks
  get_workspace_git_diff TaskMeta TaskDeleteResult ArchivedTask``;
- binding settings: ``Settings bind current init_app settings_of``;
- what the web and CLI call besides: tasks (``task_retry task_detail task_history task_runs
  task_version resolve_task_ref``), logs (``read_task_log read_run_log tail_task_log search_task_log
  task_log_path run_log_path get_archived_task read_archived_log``), projects
  (``project_create project_get project_list project_update project_version
  counts_by_status``), workflows (``graph_new graph_get graph_list graph_cancel
  graph_retry``), workers (``live_workers``), the UI statuses (``UI_STATUSES
  TERMINAL_STATUSES``) and the errors the CLI catches (``OrchestrationError MissingTaskId``).
"""

from webapp.orchestration.archive import ArchivedTask
from webapp.orchestration.artifacts import (
    get_archived_task,
    get_workspace_git_diff,
    list_archived_tasks,
    read_archived_log,
    read_run_log,
    read_task_log,
    run_log_path,
    search_task_log,
    tail_task_log,
    task_archive_logs,
    task_log_path,
)
from webapp.orchestration.context import Settings, bind, current, init_app, settings_of
from webapp.orchestration.deletion import TaskDeleteResult, mark_task_deleting, task_delete
from webapp.orchestration.errors import MissingTaskId, OrchestrationError
from webapp.orchestration.graphs import graph_cancel, graph_get, graph_list, graph_new, graph_retry
from webapp.orchestration.identity import is_task_id, normalize_task_id_input
from webapp.orchestration.lifecycle import (
    task_new,
    task_rename,
    task_retry,
    task_stop,
    update_task_exit_code,
)
from webapp.orchestration.login import get_login_command, task_login
from webapp.orchestration.naming import (
    TASK_NAME_MAX_LEN,
    NamePreview,
    generate_task_name,
    preview_task_name,
    sanitize_task_name,
    validate_task_name,
)
from webapp.orchestration.project_removal import (
    ProjectDeletePlan,
    ProjectDeleteResult,
    project_delete,
    project_delete_plan,
)
from webapp.orchestration.projects import (
    project_create,
    project_get,
    project_list,
    project_update,
    project_version,
)
from webapp.orchestration.query import (
    TaskMeta,
    counts_by_status,
    get_all_task_states,
    get_task_meta,
    get_tasks,
    resolve_task_id,
    resolve_task_ref,
    task_detail,
    task_history,
    task_list,
    task_runs,
    task_status,
    task_version,
)
from webapp.orchestration.status import TERMINAL_STATUSES, UI_STATUSES
from webapp.orchestration.workers import live_workers

__all__ = [
    "TASK_NAME_MAX_LEN",
    "TERMINAL_STATUSES",
    "UI_STATUSES",
    "ArchivedTask",
    "MissingTaskId",
    "NamePreview",
    "OrchestrationError",
    "ProjectDeletePlan",
    "ProjectDeleteResult",
    "Settings",
    "TaskDeleteResult",
    "TaskMeta",
    "bind",
    "counts_by_status",
    "current",
    "generate_task_name",
    "get_all_task_states",
    "get_archived_task",
    "get_login_command",
    "get_task_meta",
    "get_tasks",
    "get_workspace_git_diff",
    "graph_cancel",
    "graph_get",
    "graph_list",
    "graph_new",
    "graph_retry",
    "init_app",
    "is_task_id",
    "list_archived_tasks",
    "live_workers",
    "mark_task_deleting",
    "normalize_task_id_input",
    "project_create",
    "project_delete",
    "project_delete_plan",
    "project_get",
    "project_list",
    "project_update",
    "preview_task_name",
    "project_version",
    "read_archived_log",
    "read_run_log",
    "read_task_log",
    "resolve_task_id",
    "resolve_task_ref",
    "run_log_path",
    "sanitize_task_name",
    "search_task_log",
    "settings_of",
    "tail_task_log",
    "task_archive_logs",
    "task_delete",
    "task_detail",
    "task_history",
    "task_list",
    "task_login",
    "task_log_path",
    "task_new",
    "task_rename",
    "task_retry",
    "task_runs",
    "task_status",
    "task_stop",
    "task_version",
    "update_task_exit_code",
    "validate_task_name",
]
