"""The task page says why a run ended in words, never an internal code like ``exit_code``."""

from __future__ import annotations

from webapp.web.reasons import ended_because


def test_internal_reasons_read_as_words():
    assert ended_because("exit_code", 3) == "the command exited with code 3"
    assert ended_because("exit_code", 0) == "the command exited successfully"
    assert ended_because("timeout") == "it ran past its time limit and was stopped"
    assert ended_because("cancelled") == "someone stopped it"
    assert "lost" in ended_because("lost")
    assert ended_because(None) == ""
    assert ended_because("the server stopped while it ran") == "the server stopped while it ran"


def test_status_glyphs_for_plain_text_are_not_emoji():
    from webapp.orchestration import UI_STATUSES as STATUSES
    from webapp.web.icons import status_glyph

    glyphs = [status_glyph(s) for s in STATUSES]
    # Single characters of the basic plane, none with emoji presentation (like ✅ ❌ ⏳ were).
    assert all(len(g) == 1 and ord(g) < 0x2800 for g in glyphs)
    assert not set(glyphs) & set("⏳✅❌⏹🚧🧹❓✔✖⌛\ufe0f")
    assert len(set(glyphs)) >= len(STATUSES) - 1  # one shape each (lost shares "?")
