"""API keys: ``nwk_<key id>.<secret>``, stored only as SHA-256 hashes. Pure.

The key id in the key names which hash to compare with, so a lookup is one dictionary
read and one constant-time comparison (``hmac.compare_digest``). The secret is 32 random
bytes, so an unsalted SHA-256 is enough: a slow password hash protects guessable
passwords, and nobody guesses 256 random bits from their hash.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from schemas.subscription import KEY_ID

PREFIX = "nwk_"
HASH_PREFIX = "sha256:"
_KEY = re.compile(r"^nwk_([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{20,128})$")
_KEY_ID = re.compile(KEY_ID)
# Compared against when the key id is unknown, so a miss costs what a hit costs.
_DUMMY = hashlib.sha256(b"newswire: no such key").hexdigest()


def hash_key(key: str) -> str:
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def new_key(key_id: str) -> tuple[str, str]:
    """A fresh key for ``key_id`` and the line that configures it (``<id> sha256:<hex>``)."""
    if not _KEY_ID.match(key_id):
        raise ValueError(f"a key id matches {KEY_ID}")
    key = f"{PREFIX}{key_id}.{secrets.token_urlsafe(32)}"
    return key, f"{key_id} {hash_key(key)}"


def parse_hash_lines(text: str) -> dict[str, str]:
    """``<key id> sha256:<64 hex>`` per line; ``#`` comments and blank lines are skipped."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not _KEY_ID.match(parts[0]) or not valid_hash(parts[1]):
            raise ValueError(f"line {n}: expected '<key id> sha256:<64 hex digits>'")
        if parts[0] in out:
            raise ValueError(f"line {n}: key id {parts[0]!r} listed twice")
        out[parts[0]] = parts[1]
    return out


def valid_hash(value: str) -> bool:
    return bool(re.fullmatch(r"sha256:[0-9a-f]{64}", value))


def load_key_file(path: Path) -> dict[str, str]:
    return parse_hash_lines(path.read_text(encoding="utf-8"))


class KeyRing:
    """Key id → hash; :meth:`authenticate` gives the key id a presented key belongs to."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        for key_id, digest in hashes.items():
            if not _KEY_ID.match(key_id) or not valid_hash(digest):
                raise ValueError(f"API key {key_id!r}: expected id {KEY_ID} and sha256:<hex>")
        self._hex = {k: v.removeprefix(HASH_PREFIX) for k, v in hashes.items()}

    def __len__(self) -> int:
        return len(self._hex)

    def authenticate(self, presented: str) -> str | None:
        found = _KEY.match(presented)
        key_id = found.group(1) if found else ""
        expected = self._hex.get(key_id, _DUMMY)
        actual = hashlib.sha256(presented.encode()).hexdigest()
        if hmac.compare_digest(actual, expected) and key_id in self._hex:
            return key_id
        return None
