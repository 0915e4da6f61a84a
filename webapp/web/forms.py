"""The dashboard's forms (WTForms): they parse and check input, and keep it for re-rendering.

CSRF is checked app-wide (Flask-WTF's CSRFProtect), so these are plain ``wtforms.Form``s fed
with ``request.form``. Rules that need the database (a duplicate project, a bad task name)
stay in orchestration; ``attach_error`` puts its message next to the field it concerns.
"""

from __future__ import annotations

from wtforms import DecimalField, Form, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from webapp.engine import TaskType
from webapp.limits import (
    DESCRIPTION_MAX_CHARS,
    GRAPH_DEFINITION_MAX_CHARS,
    GRAPH_TITLE_MAX_CHARS,
    PAYLOAD_MAX_CHARS,
    PROJECT_GRACE_MAX_SECONDS,
    PROJECT_ID_MAX_CHARS,
    PROJECT_MAX_CONCURRENT,
    PROJECT_NAME_MAX_CHARS,
    TASK_NAME_MAX_CHARS,
    TIMEOUT_MAX_SECONDS,
)


def strip(value):
    return value.strip() if isinstance(value, str) else value


class TaskForm(Form):
    """New task: what to run and how it is called."""

    type = SelectField(
        "Type", choices=[SelectChoice(kind.value, kind.label) for kind in TaskType], default="bash"
    )
    payload = TextAreaField(
        "Command or prompt",
        validators=[DataRequired("Say what to run."), Length(max=PAYLOAD_MAX_CHARS)],
    )
    name = StringField(
        "Name", filters=[strip], validators=[Optional(), Length(max=TASK_NAME_MAX_CHARS)]
    )
    timeout = DecimalField(
        "Timeout (seconds)",
        places=None,
        validators=[Optional(), NumberRange(min=1, max=TIMEOUT_MAX_SECONDS)],
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=DESCRIPTION_MAX_CHARS)]
    )

    def values(self) -> dict:
        """Keyword arguments for ``orchestration.task_new``."""
        return {
            "type": self.type.data,
            "payload": self.payload.data,
            "name": self.name.data or None,
            "timeout": float(self.timeout.data) if self.timeout.data is not None else None,
            "description": self.description.data or "",
        }


def parse_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq or not key.strip():
            raise ValidationError(f"Line {number}: expected NAME=value, got {line!r}.")
        env[key.strip()] = value
    return env


class ProjectForm(Form):
    """New project and its settings."""

    project_id = StringField(
        "Project ID",
        filters=[strip],
        validators=[
            DataRequired("Give the project an ID, e.g. 'backend'."),
            Length(max=PROJECT_ID_MAX_CHARS),
        ],
    )
    name = StringField(
        "Display name", filters=[strip], validators=[Optional(), Length(max=PROJECT_NAME_MAX_CHARS)]
    )
    shutdown_grace = DecimalField(
        "Stop grace period (seconds)",
        places=None,
        default=10,
        validators=[Optional(), NumberRange(min=0, max=PROJECT_GRACE_MAX_SECONDS)],
    )
    max_concurrent = IntegerField(
        "Max concurrent tasks",
        validators=[Optional(), NumberRange(min=1, max=PROJECT_MAX_CONCURRENT)],
    )
    name_categories = StringField(
        "Name categories", filters=[strip], validators=[Optional(), Length(max=200)]
    )
    git_repo = StringField("Git repository", filters=[strip], validators=[Optional()])
    env = TextAreaField("Environment (NAME=value per line)", validators=[Optional()])

    def validate_env(self, field) -> None:
        parse_env(field.data or "")

    def values(self) -> dict:
        """Keyword arguments for ``orchestration.project_create`` (besides the ID)."""
        categories = [c.strip() for c in (self.name_categories.data or "").split(",")]
        grace = self.shutdown_grace.data
        return {
            "name": self.name.data or None,
            "shutdown_grace": float(grace) if grace is not None else 10.0,
            "max_concurrent": self.max_concurrent.data,
            "name_categories": [c for c in categories if c] or None,
            "git_repo": self.git_repo.data or None,
            "env": parse_env(self.env.data or "") or None,
        }


class GraphForm(Form):
    """New workflow: a title and its definition as JSON (checked by graph_definition)."""

    title = StringField(
        "Title", filters=[strip], validators=[Optional(), Length(max=GRAPH_TITLE_MAX_CHARS)]
    )
    definition = TextAreaField(
        "Definition (JSON)",
        validators=[
            DataRequired("Paste a workflow definition (JSON)."),
            Length(max=GRAPH_DEFINITION_MAX_CHARS),
        ],
    )


def attach_error(form: Form, field_name: str, message: str) -> None:
    """Show an error from orchestration next to ``field_name`` (or above the form)."""
    field = getattr(form, field_name, None)
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, message]
