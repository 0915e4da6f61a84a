"""Every size and range limit on user input, defined once.

Orchestration enforces these; the web forms, the JSON API (its checks and its OpenAPI
document) and the CLI import them so that each door accepts exactly what the others do.
A leaf module: it imports nothing of ours, so any room may import it.
"""

from __future__ import annotations

# -- tasks ------------------------------------------------------------------------------------
#: A task name (after slugging; longer input is rejected at the doors, cut by sanitizing).
TASK_NAME_MAX_CHARS = 60
#: The command, script or prompt of a task.
PAYLOAD_MAX_CHARS = 1_000_000
DESCRIPTION_MAX_CHARS = 10_000
#: A task's timeout, in seconds (one week).
TIMEOUT_MAX_SECONDS = 7 * 24 * 3600
#: The stop grace period a stop request may ask for, in seconds.
STOP_GRACE_MAX_SECONDS = 3600

# -- workflows --------------------------------------------------------------------------------
GRAPH_MAX_TASKS = 500
GRAPH_KEY_MAX_CHARS = 60
GRAPH_TITLE_MAX_CHARS = 200
#: A pasted workflow definition (JSON text).
GRAPH_DEFINITION_MAX_CHARS = 2_000_000

# -- projects ---------------------------------------------------------------------------------
PROJECT_ID_MAX_CHARS = 40
PROJECT_NAME_MAX_CHARS = 100
PROJECT_GRACE_MAX_SECONDS = 3600
PROJECT_MAX_CONCURRENT = 10_000

# -- lists, search and logs -------------------------------------------------------------------
#: Text searched for in task lists, the archive and logs.
SEARCH_MAX_CHARS = 200
#: Tasks in one page of an API list.
PAGE_SIZE_MAX = 500
#: Tasks one bulk action (stop, retry, delete) may name.
BULK_MAX_TASKS = 500
#: Log lines one tail request may ask for.
LOG_TAIL_MAX_LINES = 100_000
#: Matches one log search returns.
LOG_SEARCH_MAX_MATCHES = 200

# -- accounts ---------------------------------------------------------------------------------
USERNAME_MAX_CHARS = 64
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 1024
TOKEN_NAME_MAX_CHARS = 100
