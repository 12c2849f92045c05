"""Named API keys kept in a file as SHA-256 digests: `ordercast keys` writes it, the
service reads it at start-up and again whenever it changes (:class:`ServedKeys`). The plain
key is shown once, when it is made, and never stored, so a copied file grants nothing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.security import ROLES, KeyRing
from forecasting.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PREFIX = "oc_"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredKey:
    name: str
    role: str
    sha256: str
    created: str


def read_keys(path: Path) -> list[StoredKey]:
    """The keys in ``path``; none when the file does not exist."""
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        keys = [StoredKey(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"API key file {path} is not one `ordercast keys` wrote ({exc}); "
            "move it aside and create the keys again"
        ) from exc
    for key in keys:
        if key.role not in ROLES:
            raise ConfigError(f"API key file {path}: key {key.name!r} has unknown role {key.role}")
    return keys


def create_key(path: Path, name: str, role: str, replace: bool = False) -> str:
    """Add a key named ``name`` with ``role`` to ``path`` and return the plain key."""
    if not NAME.match(name):
        raise ConfigError(
            f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. planner-anna)"
        )
    if role not in ROLES:
        raise ConfigError(f"--role {role}: choose one of {', '.join(ROLES)}")
    keys = read_keys(path)
    if any(key.name == name for key in keys) and not replace:
        raise ConfigError(
            f"a key named {name!r} exists in {path}; choose another name, or add --replace "
            "to issue a new key under this name (the old one stops working)"
        )
    plain = PREFIX + secrets.token_urlsafe(32)
    made = StoredKey(
        name=name,
        role=role,
        sha256=hashlib.sha256(plain.encode()).hexdigest(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write(path, [key for key in keys if key.name != name] + [made])
    return plain


def revoke_key(path: Path, name: str) -> None:
    keys = read_keys(path)
    kept = [key for key in keys if key.name != name]
    if len(kept) == len(keys):
        known = ", ".join(key.name for key in keys) or "none"
        raise ConfigError(f"no key named {name!r} in {path} (keys: {known})")
    _write(path, kept)


def _write(path: Path, keys: list[StoredKey]) -> None:
    """Replace the file in one rename, readable by its owner only: digests are not keys,
    but who holds which role is still nobody else's business."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"keys": [asdict(key) for key in keys]}, out, indent=2)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def key_ring(spec: str, path: Path | None) -> KeyRing:
    """The keys the service accepts: those of ``api.api_keys`` / ORDERCAST_API_KEYS and
    those `ordercast keys create` wrote to ``path`` (none without a path)."""
    found = read_keys(path) if path is not None else []
    stored = [(key.name, key.role, key.sha256) for key in found]
    return KeyRing.parse(spec).with_digests(stored)


class ServedKeys:
    """The keys the service accepts now, as :class:`KeyRing` answers them: those of
    ``api.api_keys`` and those the key file holds at the time of the request.

    ``ordercast keys revoke`` (or ``create --replace``) takes effect on the next request, in
    the API and for the pages' sessions, without a restart: the file is checked (one
    ``stat``) on each use and read again only when it changed. A file that cannot be read
    any more grants nothing (logged) until it is fixed: a revocation must never be undone by
    a broken file. A service started with keys never opens up: with every key revoked it
    refuses everyone, where one started without any key (loopback only) lets everyone in.
    """

    def __init__(self, spec: str, path: Path | None) -> None:
        self._spec = spec
        self._path = path
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._ring = key_ring(spec, path)  # a bad file at start-up stops the service
        self._open = self._ring.empty

    def ring(self) -> KeyRing:
        """The key ring as the key file says now."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._ring = self._read()
                    self._stamp = stamp
        return self._ring

    @property
    def empty(self) -> bool:
        """No key configured, now or at start-up: everyone is the local admin."""
        return self._open and self.ring().empty

    @property
    def digests(self) -> tuple[tuple[bytes, str, str], ...]:
        return self.ring().digests

    def holder_of(self, presented: str | None) -> tuple[str, str] | None:
        return self.ring().holder_of(presented)

    def role_of(self, presented: str | None) -> str | None:
        return self.ring().role_of(presented)

    def _read(self) -> KeyRing:
        try:
            return key_ring(self._spec, self._path)
        except (ConfigError, OSError) as exc:
            logger.error("the API key file grants no key until it is fixed: %s", exc)
            return KeyRing.parse(self._spec)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        """When, how big and which file: `ordercast keys` replaces the file in one rename."""
        if self._path is None:
            return None
        try:
            found = self._path.stat()
        except FileNotFoundError:
            return None
        return (found.st_mtime_ns, found.st_size, found.st_ino)
