"""docs/ARCHITECTURE.md stays true: every path it names exists, every room is on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "ARCHITECTURE.md"
PATH = re.compile(r"\b(?:webapp|templates|static|tests|bench|docs)/[\w./-]*")


def named_paths() -> list[str]:
    return sorted({match.rstrip(".") for match in PATH.findall(MAP.read_text())})


def test_every_path_the_map_names_exists():
    paths = named_paths()
    assert len(paths) > 30  # the map does name its modules
    assert [path for path in paths if not (ROOT / path).exists()] == []


def test_every_room_of_the_package_is_on_the_map():
    text = MAP.read_text()
    rooms = sorted(
        p.name for p in (ROOT / "webapp").iterdir() if p.is_dir() and p.name != "__pycache__"
    )
    assert [room for room in rooms if f"webapp/{room}/" not in text] == []


def test_the_module_names_in_the_rooms_table_exist():
    """``lifecycle.py, query.py, ...`` listed under a room are modules of that room."""
    table = MAP.read_text().split("```")[1]
    missing = []
    room = None
    for line in table.splitlines():
        head = re.match(r"(webapp/\w+/)", line)
        if head:
            room = ROOT / head.group(1)
        elif not line.startswith(" "):
            room = None
        if room is None:
            continue
        for name in re.findall(r"\b(\w+\.py|\w+/)(?=[ ,()]|$)", line.split("  ", 1)[-1]):
            if name.startswith("webapp"):
                continue
            if not (room / name).exists() and not (room / "engine" / name).exists():
                missing.append(f"{room.relative_to(ROOT)}/{name}")
    assert missing == []
