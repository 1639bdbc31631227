"""Secrets the server must read back, stored sealed: AES-256-GCM (the `cryptography` package) under a key
derived from SECRET_KEY, so a copy of the database or a backup holds no authenticator secrets.

Unsealing also tries SECRET_KEY_FALLBACKS, so a key rotation keeps enrolled apps working while the old
key is listed there (as Django does for sessions and our recovery codes)."""

import os
from base64 import urlsafe_b64decode, urlsafe_b64encode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

PREFIX = "gcm1$"  # 5 + 64 characters for a 20-byte secret: within django-otp's 80-character key column
NONCE_BYTES = 12
UNSEALABLE = (
    "An authenticator secret was sealed under a SECRET_KEY that is neither the current one nor listed "
    "in SECRET_KEY_FALLBACKS: add the old key to SECRET_KEY_FALLBACKS, or reset that person's "
    "two-factor sign-in."
)


def _cipher(secret: str, purpose: str) -> AESGCM:
    return AESGCM(
        salted_hmac(f"accounts.sealing.{purpose}", "key", secret=secret, algorithm="sha256").digest()
    )


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(plain: bytes, *, purpose: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings.SECRET_KEY, purpose).encrypt(nonce, plain, purpose.encode())
    return PREFIX + urlsafe_b64encode(nonce + sealed).decode()


def unseal(stored: str, *, purpose: str) -> bytes:
    if not is_sealed(stored):
        raise ValueError("Not a sealed value.")
    blob = urlsafe_b64decode(stored.removeprefix(PREFIX))
    nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        try:
            return _cipher(secret, purpose).decrypt(nonce, sealed, purpose.encode())
        except InvalidTag:
            continue
    raise ImproperlyConfigured(UNSEALABLE)
