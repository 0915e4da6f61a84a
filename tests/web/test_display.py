"""Display helpers that build markup in Python: what they show and that they escape."""

from __future__ import annotations

from webapp.web.display import count_links


def test_count_links_show_each_status_with_tasks_as_a_filter_link():
    html = str(count_links({"queued": 2, "running": 0, "failed": 1, "lost": None}, "/p?x=<&"))
    assert html.count("<a ") == 2  # statuses without tasks are left out
    assert '<a class="count status-queued" href="/p?x=&lt;&amp;?status=queued"' in html
    failed = html[html.index('data-count="failed">') :]
    assert '<use href="/static/icons.svg#failed">' in failed  # an SVG icon, not an emoji
    assert "</svg></span> 1 failed</a>" in failed
    assert html.index("queued") < html.index("failed")  # in the UI's status order
    assert str(count_links({}, "/p")) == ""
