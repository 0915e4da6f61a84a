"""Task names: terok's sanitize/validate rules (quirk fixed) and generated names."""

from __future__ import annotations

import re

import namer
import pytest

from webapp.orchestration.errors import InvalidTaskName
from webapp.orchestration.naming import (
    TASK_NAME_MAX_LEN,
    clean_task_name,
    default_categories_for_project,
    generate_task_name,
    resolve_name_categories,
    sanitize_task_name,
    validate_name_categories,
    validate_task_name,
)

SLUG = re.compile(r"[a-z0-9_-]+")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Fix Login Bug  ", "fix-login-bug"),
        ("Ünïcödé tëst", "ncd-tst"),  # non-ASCII letters are dropped, as in terok
        ("日本語 テスト", None),  # nothing left
        ("!!! ??? ...", None),  # only punctuation
        ("", None),
        ("   ", None),
        (None, None),
        ("-leading", "-leading"),  # kept so validation can reject it
        ("a  --  b", "a-b"),  # hyphen runs collapse
        ("trailing---", "trailing"),
        ("snake__case_", "snake__case_"),  # underscores are kept, runs too
        ("___", "___"),
        ("tab\there", "tabhere"),  # tabs are deleted, not hyphenated
        ("new\nline", "newline"),
        ("émoji 🚀 rocket", "moji-rocket"),
        ("CamelCase123", "camelcase123"),
    ],
)
def test_sanitize(raw, expected):
    assert sanitize_task_name(raw) == expected


def test_sixty_one_characters_are_cut_to_sixty():
    name = sanitize_task_name("a" * 61)
    assert name == "a" * TASK_NAME_MAX_LEN
    assert TASK_NAME_MAX_LEN == 60


def test_truncation_never_leaves_a_trailing_hyphen():
    # terok cut "aaa...a-b" at 60 and kept the hyphen at position 60.
    raw = "a" * 59 + "-bcdef"
    assert sanitize_task_name(raw) == "a" * 59
    raw = "ab-" * 30  # 90 chars; position 60 is a hyphen
    result = sanitize_task_name(raw)
    assert len(result) <= TASK_NAME_MAX_LEN
    assert not result.endswith("-")


def test_long_unicode_name_stays_within_limit_and_alphabet():
    result = sanitize_task_name("Δοκιμή " * 5 + "release candidate " * 10)
    assert SLUG.fullmatch(result)
    assert len(result) <= TASK_NAME_MAX_LEN
    assert not result.endswith("-")


def test_validate():
    assert validate_task_name("ok-name") is None
    assert validate_task_name("___") is None
    assert validate_task_name("-rf") == "name must not start with a hyphen"
    assert validate_task_name(None) is not None


def test_clean_task_name_raises_terok_messages():
    assert clean_task_name(" My Task ") == "my-task"
    with pytest.raises(InvalidTaskName, match="Invalid task name: name must not start with a"):
        clean_task_name("--force")
    with pytest.raises(InvalidTaskName, match=r"Invalid task name: '\?\?\?'"):
        clean_task_name("???")
    with pytest.raises(ValueError):
        clean_task_name("🚀")


def test_generated_names_are_adjective_noun_slugs():
    for _ in range(200):
        name = generate_task_name()
        assert SLUG.fullmatch(name)
        assert validate_task_name(name) is None
        assert "-" in name


def test_explicit_categories_win():
    animals = namer.data.categories["animals"]
    nouns = {noun for group in animals for noun in group}
    for _ in range(30):
        name = generate_task_name("demo", categories="animals")
        assert any(name.endswith("-" + noun) for noun in nouns), name


def test_default_categories_are_stable_per_project_and_valid():
    first = default_categories_for_project("alpha")
    assert first == default_categories_for_project("alpha")
    assert len(first) == 3
    assert set(first) <= set(namer.list_categories())
    themes = {tuple(default_categories_for_project(f"project-{i}")) for i in range(20)}
    assert len(themes) > 5  # different projects get different themes


def test_category_resolution_order():
    assert resolve_name_categories("alpha", ["food"]) == ["food"]
    assert resolve_name_categories("alpha", "music") == ["music"]
    assert resolve_name_categories("alpha", []) == default_categories_for_project("alpha")
    assert resolve_name_categories("alpha", None) == default_categories_for_project("alpha")
    assert resolve_name_categories(None, None) is None


def test_unknown_category_lists_the_valid_ones():
    with pytest.raises(InvalidTaskName) as info:
        generate_task_name("alpha", categories=["animals", "dinosaurs"])
    message = str(info.value)
    assert "'dinosaurs'" in message
    assert "animals, architecture" in message
    assert "technology" in message
    with pytest.raises(ValueError, match="Unknown name categories 'x', 'y'"):
        validate_name_categories(["x", "y"])
