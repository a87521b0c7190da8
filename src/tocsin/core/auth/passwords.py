"""argon2id hashing of staff passwords and partner client secrets.

``hasher`` is read at each call so tests can swap in cheap parameters; ``dummy_hash`` gives a hash of
the same cost to check against when the account is unknown, so timing does not reveal which ids exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher()
_dummies: dict[int, str] = {}


def hash_secret(secret: str) -> str:
    """argon2id hash of a password or client secret."""
    return hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """True when ``secret`` matches the stored argon2 hash (a CPU-heavy call: keep it off the event loop)."""
    try:
        return hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def dummy_hash() -> str:
    """A hash with the current parameters, to verify against when there is no account."""
    key = id(hasher)
    if key not in _dummies:
        _dummies[key] = hasher.hash("no account has this secret")
    return _dummies[key]


def burn(secret: str) -> bool:
    """Spend the time of a real check and answer False (unknown or inactive account)."""
    verify_secret(dummy_hash(), secret)
    return False
