"""HTTP basic authentication around the whole WSGI app, for dashboards bound beyond loopback.

Plain WSGI middleware rather than a plugin: it guards every route (pages, callbacks, assets,
the CSV export and model files) in a dozen lines, and compares in constant time.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress

from model.errors import MoodlogError

AUTH_ENV = "MOODLOG_DASHBOARD_AUTH"


class AuthError(MoodlogError):
    """Credentials are missing where required, or malformed."""


def parse_credentials(text: str) -> tuple[str, str]:
    """'USER:PASS' -> (user, password); both must be non-empty."""
    user, colon, password = (text or "").partition(":")
    if not colon or not user or not password:
        raise AuthError("credentials must look like USER:PASS (both non-empty)")
    return user, password


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BasicAuth:
    """Ask for USER:PASS on every request before passing it to the wrapped WSGI app."""

    def __init__(self, app, user: str, password: str, realm: str = "Moodlog"):
        self.app = app
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.realm = realm

    def __call__(self, environ, start_response):
        if self.authorised(environ.get("HTTP_AUTHORIZATION", "")):
            return self.app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'),
                                            ("Content-Type", "text/plain; charset=utf-8")])
        return [b"Moodlog: login required\n"]

    def authorised(self, header: str) -> bool:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":         # the scheme's name is case-insensitive (RFC 9110 11.1)
            return False
        try:
            token.strip().encode("ascii")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(("Basic " + token.strip()).encode("ascii"), self.expected.encode("ascii"))


class LoopbackHostOnly:
    """For a dashboard without a login (bound to loopback): answer only requests addressed to this
    machine by a loopback name (127.0.0.1, localhost, [::1], with any port); 403 otherwise.

    Why: binding to loopback keeps other machines out, but not a web page in the user's own browser
    that points its own domain name at 127.0.0.1 (DNS rebinding) and could then read the log and
    drive the callbacks as the dashboard's page does; such a request carries that domain as its Host.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host is None or is_loopback(host_name(host)):
            return self.app(environ, start_response)
        start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Moodlog: this dashboard answers only at 127.0.0.1, localhost or [::1]; "
                b"to reach it by another name, start it with --host and --auth\n"]


def host_name(host: str) -> str:
    """The name in an HTTP Host header, without its port: 'localhost:8050' -> 'localhost',
    '[::1]:8050' -> '::1'. Lower case, as names are case-insensitive."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
