"""The login gate, CSRF protection, security headers and cookie policy.

``gate`` is the one place that decides whether a request may reach a view: every endpoint
except ``PUBLIC_ENDPOINTS`` needs a signed-in user (a session for pages, a bearer token under
``/api/``). Without one, pages redirect to the login form, htmx requests get 401 with
``HX-Redirect``, and the API answers 401 JSON. A view may carry an ``anonymous_if`` predicate
(``/metrics`` lets loopback in); unknown URLs fall through to their 404/405. A signed-in
user's POST/PUT/PATCH/DELETE must also meet the view's ``required_role`` (set by
``auth.require_role``); a view that declares none needs operator, or admin if its endpoint
name says "delete".
"""

from __future__ import annotations

from flask import Flask, abort, current_app, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.web import errors

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "htmx_js", "ops.healthz"})
UNCACHED_EXEMPT = frozenset({"static", "htmx_js"})  # and anything else under /static/
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CSRF_HINT = "Reload the page and submit the form again."


class CsrfProblem(BadRequest):
    name = "CSRF check failed"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def unauthorized_json(detail: str):
    body = {"error": "Unauthorized", "detail": detail}
    return body, 401, {"WWW-Authenticate": 'Bearer realm="webapp"'}


def gate():
    """before_request: let public endpoints and signed-in users through, turn the rest away."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None
    view = current_app.view_functions.get(endpoint)
    if current_user.is_authenticated:
        return _check_change_role(view, endpoint)
    anonymous_if = getattr(view, "anonymous_if", None)
    if anonymous_if is not None and anonymous_if():
        return None
    if is_api_request() or getattr(view, "token_auth", False):
        return unauthorized_json(
            "send 'Authorization: Bearer <token>'; create a token on your account page"
        )
    login_url = url_for("auth.login", next=_next_path())
    if request.htmx:
        return "", 401, {"HX-Redirect": login_url}
    return redirect(login_url)


def default_role(endpoint: str) -> str:
    """The role a state-changing view needs when it does not say: deleting is for admins."""
    return "admin" if "delete" in endpoint else "operator"


def _check_change_role(view, endpoint: str) -> None:
    """Safety net: a change needs at least operator unless its view declares a role."""
    if request.method not in UNSAFE_METHODS:
        return
    role = getattr(view, "required_role", None) or default_role(endpoint)
    if not current_user.can(role):
        abort(
            403,
            f"This needs the {role} role; you are signed in as "
            f"{current_user.username} ({current_user.role}).",
        )


def _next_path() -> str | None:
    """Where to return after login: this page for GETs, the referring page otherwise."""
    if request.method == "GET" and not request.htmx:
        return request.full_path.rstrip("?")
    return None


def set_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint not in UNCACHED_EXEMPT and not request.path.startswith("/static/"):
        # Pages hold private data: never keep them, so "back" after logout shows nothing.
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    return response


def csrf_failed(error: CSRFError):
    """400 naming the problem (missing, expired, invalid) and what to do about it."""
    reason = error.description or "The CSRF token is missing or invalid."
    return errors.render_error(CsrfProblem(f"{reason} {CSRF_HINT}"))


def init_app(app: Flask) -> CSRFProtect:
    """Install the gate first (so anonymous posts meet the login page, not a CSRF error)."""
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.session_interface = SessionInterface()
    app.before_request(gate)
    csrf = CSRFProtect(app)
    app.register_error_handler(CSRFError, csrf_failed)
    app.after_request(set_security_headers)
    return csrf
