"""Any form input to the accounts pages gets an answer below 500 (hypothesis, ~2 s)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = ("username", "password", "role", "name", "current", "new", "confirm", "next")
BLUEPRINTS = ("auth.", "account.", "admin.")
odd_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "admin", "viewer", "operator", "x" * 2000, "%00", "../..", "é"]),
)
forms = st.dictionaries(st.sampled_from(FIELDS), odd_text, max_size=len(FIELDS))
path_values = st.one_of(st.sampled_from(["viewer", "operator", "ghost"]), st.text(max_size=30))
RUN = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def test_accounts_forms_never_fail_with_a_server_error(app, login_as):
    routes = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(BLUEPRINTS)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(routes) >= 12
    admin = login_as("admin")
    failures: list[str] = []

    @RUN
    @given(
        index=st.integers(0, len(routes) - 1), form=forms, value=path_values, number=st.integers()
    )
    def check(index, form, value, number):
        rule, method = routes[index]
        args = {
            name: (abs(number) if name == "token_id" else value or "x") for name in rule.arguments
        }
        url = rule.build(args)[1]
        response = admin.open(url, method=method, data=form, query_string=form)
        if response.status_code >= 500:
            failures.append(f"{method} {url} {form!r}: {response.status_code}")

    check()
    assert failures == []
