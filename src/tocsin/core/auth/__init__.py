"""Who may do what: staff users and their server-side sessions, partner clients with OAuth2 tokens,
and the throttle that slows down guessing. The names most callers need are re-exported here."""

from tocsin.core.auth.partners import (
    AccessToken,
    ApiClient,
    Caller,
    TokenCache,
    caller_for_token,
    deactivate_missing,
    digest,
    purge_expired_tokens,
    upsert_client,
)
from tocsin.core.auth.passwords import hash_secret, verify_secret
from tocsin.core.auth.staff import ROLES, StaffSession, StaffUser, authenticate_staff, upsert_staff

__all__ = [
    "ROLES",
    "AccessToken",
    "ApiClient",
    "Caller",
    "StaffSession",
    "StaffUser",
    "TokenCache",
    "authenticate_staff",
    "caller_for_token",
    "deactivate_missing",
    "digest",
    "hash_secret",
    "purge_expired_tokens",
    "upsert_client",
    "upsert_staff",
    "verify_secret",
]
