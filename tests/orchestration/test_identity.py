"""Task IDs: shape, generation, user-input normalisation, prefix resolution, slash form."""

from __future__ import annotations

import pytest

from webapp.orchestration.errors import (
    AmbiguousTaskId,
    InvalidSlashForm,
    InvalidTaskId,
    MissingTaskId,
    TaskIdSpaceExhausted,
    TaskNotFound,
)
from webapp.orchestration.identity import (
    CROCKFORD_ALPHABET,
    HEAD_ALPHABET,
    generate_task_id,
    is_task_id,
    normalize_task_id_input,
    resolve_task_id,
    split_project_task,
)

LIVE = ["k3v8h", "k3v9a", "k4abc", "v9krt", "m0000"]


@pytest.mark.parametrize("text", ["k3v8h", "v9krt", "g0000", "z9zzz", "m5abc"])
def test_canonical_ids_are_task_ids(text):
    assert is_task_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "K3V8H",  # uppercase is input, never canonical
        "a3v8h",  # hex head letter
        "i3v8h",  # i/l/o/u never appear
        "u3v8h",
        "kav8h",  # second position must be a digit
        "k3v8",  # too short
        "k3v8hh",  # too long
        "k3vih",  # i is not Crockford
        "k3v-8h",
        "",
        None,
        12345,
    ],
)
def test_non_canonical_text_is_not_a_task_id(text):
    assert not is_task_id(text)


def test_alphabets_match_terok():
    assert HEAD_ALPHABET == "ghjkmnpqrstvwxyz"
    assert len(CROCKFORD_ALPHABET) == 32
    assert not set("ilou") & set(CROCKFORD_ALPHABET)


def test_generated_ids_are_valid_spread_and_avoid_existing():
    ids = {generate_task_id() for _ in range(500)}
    assert all(is_task_id(i) for i in ids)
    assert len(ids) > 490  # 5.2 million possibilities: collisions are rare
    assert {i[0] for i in ids} <= set(HEAD_ALPHABET)
    assert len({i[0] for i in ids}) > 10  # every head letter is in play
    existing = set(list(ids)[:100])
    assert generate_task_id(existing) not in existing


def test_generation_gives_up_with_a_clear_error_when_every_id_is_taken():
    class Everything:
        def __contains__(self, item):
            return True

    with pytest.raises(TaskIdSpaceExhausted, match="after 100 attempts"):
        generate_task_id(Everything())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("K3V8H", "k3v8h"),
        ("k3-v8-h", "k3v8h"),
        ("K3VIH", "k3v1h"),
        ("k3vLh", "k3v1h"),
        ("k3vOh", "k3v0h"),
        ("  k3v8h\n", "k3v8h"),
    ],
)
def test_normalize_widens_user_input(raw, expected):
    assert normalize_task_id_input(raw) == expected


def test_exact_match_wins_over_longer_candidates():
    # "k3v8h" is also a prefix of nothing else, but an exact ID must never be ambiguous.
    assert resolve_task_id("p", "k3v8h", LIVE) == "k3v8h"


def test_unique_prefix_resolves_with_tolerant_input():
    assert resolve_task_id("p", "V9", LIVE) == "v9krt"
    assert resolve_task_id("p", "k-4", LIVE) == "k4abc"
    assert resolve_task_id("p", "mO", LIVE) == "m0000"  # O -> 0 after the head


def test_resolution_accepts_a_generator_of_candidates():
    assert resolve_task_id("p", "v", (c for c in LIVE)) == "v9krt"


def test_ambiguous_prefix_lists_the_sorted_matches():
    with pytest.raises(AmbiguousTaskId) as info:
        resolve_task_id("p", "k3", ["k3v9a", "k4abc", "k3v8h"])
    assert info.value.matches == ["k3v8h", "k3v9a"]
    assert str(info.value) == "Ambiguous task ID 'k3' — matches: k3v8h, k3v9a"
    assert isinstance(info.value, LookupError)


def test_no_match_names_the_prefix_and_project():
    with pytest.raises(TaskNotFound, match="No task matching 'q1' in project demo"):
        resolve_task_id("demo", "Q1", LIVE)


def test_project_without_tasks_says_so():
    with pytest.raises(TaskNotFound, match="No tasks found for project demo"):
        resolve_task_id("demo", "k3", [])


@pytest.mark.parametrize("prefix", ["i3", "L3v", "o"])
def test_head_letter_i_l_o_is_rejected_before_substitution(prefix):
    with pytest.raises(InvalidTaskId) as info:
        resolve_task_id("p", prefix, LIVE)
    assert str(info.value) == (
        f"Invalid task ID prefix '{prefix}'; task IDs never start with I, L, or O"
        " — expected one of 'ghjkmnpqrstvwxyz'"
    )


@pytest.mark.parametrize("prefix", ["a3", "kk", "k3v8hx", "k3!", "3v", "k3vu"])
def test_malformed_prefix_is_invalid_not_missing(prefix):
    with pytest.raises(InvalidTaskId, match=r"expected 1-5 Crockford chars \(e.g. 'k3v8h'\)"):
        resolve_task_id("p", prefix, LIVE)


@pytest.mark.parametrize("prefix", ["", "  ", "-", "--"])
def test_empty_prefix_gets_its_own_message(prefix):
    with pytest.raises(MissingTaskId) as info:
        resolve_task_id("demo", prefix, LIVE)
    message = str(info.value)
    assert message.startswith("Missing task ID")
    assert "demo" in message
    assert "never start with I, L, or O" not in message  # terok's quirk, fixed
    assert isinstance(info.value, ValueError)


def test_non_canonical_candidates_are_ignored():
    with pytest.raises(TaskNotFound, match="No task matching 'k3'"):
        resolve_task_id("p", "k3", ["a1b2c", "K3V8H", "k3v8h_old", "g1234"])


def test_slash_form_splits_project_and_task():
    assert split_project_task("demo/K3v") == ("demo", "K3v")


@pytest.mark.parametrize(
    "text",
    [
        "demo",  # no slash
        "/k3v",
        "demo/",
        "./k3v",
        "../k3v",
        "..x/k3v",
        "demo/..",
        "demo/a/b",
        "demo\\x/k3v",
        "demo/k3\\v",
    ],
)
def test_slash_form_rejects_empty_and_unsafe_parts(text):
    with pytest.raises(InvalidSlashForm) as info:
        split_project_task(text)
    assert repr(text) in str(info.value)
