"""Signed-in planners: a key entered once becomes a signed session cookie.

The cookie carries the key holder's name and role, which key it was (an HMAC of the key's
digest under the signing secret, which says nothing of the key), a random session id and
when it was issued, signed with HMAC-SHA256; never the key. Every request checks that the
key ring (as the key file says now) still holds that key with that name and role, so a
revoked or replaced key's sessions end at their next request. It is HttpOnly (no script
reads it) and SameSite=Strict (no other site's page sends it), and every form also carries
a CSRF token bound to the session id, so a forged form from elsewhere fails even where
SameSite is not honoured. Roles are the API's: a page needs ``read``, an adjustment ``write``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from api.key_file import ServedKeys
from api.security import allows, key_digest

SESSION_COOKIE = "ordercast_session"
# Before sign-in there is no session to bind a token to: the sign-in form's token is
# double-submitted (a cookie and a field that must match).
SIGN_IN_COOKIE = "ordercast_sign_in"
COOKIE_PATH = "/web"
MAX_AGE_SECONDS = 12 * 3600  # a working day: the next morning starts with the key again
LOCAL = "local"  # the holder's name when no key is configured, as the API's caller_role


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, data requests get 401."""


class PageForbidden(Exception):
    """A signed-in holder whose role does not allow the page or action."""

    def __init__(self, needed: str, role: str) -> None:
        super().__init__(f"this needs the '{needed}' role; your key's role is '{role}'")
        self.needed = needed
        self.role = role


class CsrfError(Exception):
    """A form or data post without the session's CSRF token."""


@dataclass(frozen=True)
class WebUser:
    """Who is signed in: the key's name (recorded as the author of adjustments) and role."""

    name: str
    role: str
    key_id: str  # which key signed in: see Sessions._key_id
    session_id: str
    issued: int


class Sessions:
    """Issues and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: Callable[[], bytes], keys: ServedKeys) -> None:
        # Made on first use, not at start-up: a service nobody signs in to writes nothing
        # beside its key file.
        self._make_secret = secret
        self._secret: bytes | None = None
        self._lock = threading.Lock()
        self._keys = keys

    @property
    def open_access(self) -> bool:
        """No key configured: as the API, everyone is the local admin (loopback only, which
        create_app checks at start-up)."""
        return self._keys.empty

    def issue(self, key: str | None, now: float | None = None) -> str | None:
        """A session cookie for the holder of a presented key (the local admin when no key
        exists), or None when the key grants nothing."""
        if self.open_access:
            name, role, key_id = LOCAL, "admin", ""
        else:
            holder = self._keys.holder_of(key)
            if holder is None or key is None:
                return None
            (name, role), key_id = holder, self._key_id(key_digest(key))
        payload = {
            "n": name,
            "r": role,
            "k": key_id,
            "s": secrets.token_urlsafe(16),
            "t": int(time.time() if now is None else now),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def read(self, cookie: str | None, now: float | None = None) -> WebUser | None:
        """The user a cookie names, or None if it is missing, forged, expired or was signed
        in with a key the key ring no longer holds under that name and role."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = json.loads(_unb64(body))
            user = WebUser(
                str(payload["n"]),
                str(payload["r"]),
                str(payload["k"]),
                str(payload["s"]),
                int(payload["t"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        age = (time.time() if now is None else now) - user.issued
        if not 0 <= age <= MAX_AGE_SECONDS:
            return None
        if not self._still_granted(user):
            return None
        return user

    def csrf_token(self, user: WebUser) -> str:
        """The token every form of this session carries."""
        return self._sign(f"csrf:{user.session_id}")

    def csrf_ok(self, user: WebUser, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(user))

    def _still_granted(self, user: WebUser) -> bool:
        if self.open_access:
            return user.name == LOCAL and user.role == "admin"
        return any(
            name == user.name
            and role == user.role
            and hmac.compare_digest(self._key_id(digest), user.key_id)
            for digest, role, name in self._keys.digests
        )

    def _key_id(self, digest: bytes) -> str:
        """Which key a session was signed in with: bound to the key itself, so a key replaced
        under the same name and role (`ordercast keys create --replace`) ends the old key's
        sessions too; keyed by the secret, so the cookie says nothing of the key."""
        return self._sign(f"key:{digest.hex()}")

    def _sign(self, text: str) -> str:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._make_secret()
        return _b64(hmac.new(self._secret, text.encode(), hashlib.sha256).digest())


def session_secret(keys_file: Path | None) -> bytes:
    """The signing secret: kept beside the key file (readable by its owner only) so sessions
    survive a restart and every worker of one service agrees; without a key file, a fresh
    secret per process (a restart signs everyone out)."""
    if keys_file is None:
        return secrets.token_bytes(32)
    path = keys_file.with_name(keys_file.name + ".session-secret")
    try:
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    # O_EXCL: two workers starting together keep the first one's secret.
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(handle, "wb") as out:
        out.write(secret)
    return secret


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sessions_of(request: Request) -> Sessions:
    return request.app.state.web.sessions


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back to the page asked for."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{COOKIE_PATH}/sign-in?next={quote(target, safe='')}"


def cookie_secure(request: Request) -> bool:
    # Secure only over HTTPS: a browser drops a Secure cookie set over plain http, and the
    # demo serves plain http on loopback. Behind TLS (or a proxy that says so) it is set.
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded == "https"


def current_user(request: Request) -> WebUser:
    """The signed-in user; :class:`SignInRequired` without a valid session."""
    user = sessions_of(request).read(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise SignInRequired()
    # Recorded as the author of what the session changes, as the API records a key's name.
    request.state.caller = user.name
    return user


def needs(role: str) -> Callable[[WebUser], WebUser]:
    """A dependency letting through signed-in users whose role grants ``role``."""

    def check(user: Annotated[WebUser, Depends(current_user)]) -> WebUser:
        if not allows(user.role, role):
            raise PageForbidden(role, user.role)
        return user

    return check


async def checked_csrf(
    request: Request, user: Annotated[WebUser, Depends(current_user)]
) -> WebUser:
    """For data posts from the pages' scripts: the token in the X-CSRF-Token header."""
    if not sessions_of(request).csrf_ok(user, request.headers.get("x-csrf-token")):
        raise CsrfError()
    return user


Reader = Annotated[WebUser, Depends(needs("read"))]
Writer = Annotated[WebUser, Depends(needs("write"))]
# After the role: a read key's post is told about its role, not about a token.
CsrfChecked = Annotated[WebUser, Depends(checked_csrf)]
