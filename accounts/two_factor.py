"""Two-factor sign-in (django-otp): an authenticator app (TOTP) plus single-use recovery codes.

Staff (agents and administrators) may enrol; the site configuration can require it of them. The
services here are the only writers of OTP devices; each takes `actor` and is audited. Recovery codes
are shown once and stored only as keyed hashes (`recovery_code_digest`), so a copy of the database
holds no usable codes; authenticator secrets are stored sealed (`SealedTOTPDevice`), for the same reason.
"""

import re
from base64 import b32encode
from dataclasses import dataclass

import django_otp
import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.crypto import salted_hmac
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

import audit
from accounts import rbac, services
from accounts.models import SealedTOTPDevice, User
from audit.models import AuditEvent

RECOVERY_CODE_COUNT = 10
CODE_INVALID = "That code is not valid. Enter the 6-digit code your app shows now, or a recovery code."
CODE_THROTTLED = "Too many wrong codes. Wait a minute, then try again."
NOT_STAFF = "Two-factor sign-in is available to agents and administrators."
REQUIRED = "Two-factor sign-in is required for your role, so it cannot be switched off."
NOT_ENROLLED = "This set-up is no longer under way (it was finished or replaced elsewhere). Start again."
NOT_ON = "Two-factor sign-in is not on."
ALREADY_ON = (
    "This set-up was already finished (a second click?): two-factor sign-in is on. If you did not save the "
    "recovery codes it showed, make new ones below."
)
SECURITY = AuditEvent.Category.SECURITY


@dataclass(frozen=True)
class Enrolment:
    device: SealedTOTPDevice
    secret: str  # base32, for typing into an app by hand
    qr_data_uri: str


def is_enabled(user: User) -> bool:
    return SealedTOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def is_required(user: User, *, site_requires: bool) -> bool:
    return site_requires and rbac.is_staff(user)


def pending_enrolment(user: User, device_id: int | None) -> Enrolment | None:
    """The set-up under way in one session (`device_id`, which that session keeps): another session of
    the account, perhaps a stolen cookie, must not read the secret about to go live."""
    if device_id is None:
        return None
    device = SealedTOTPDevice.objects.devices_for_user(user, confirmed=False).filter(pk=device_id).first()
    if device is None:
        return None
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2, dark="#111", light="#fff")
    return Enrolment(device=device, secret=secret, qr_data_uri=qr)


def two_factor_start(user: User, *, actor: User, token: str = "") -> SealedTOTPDevice:
    """A fresh, unconfirmed authenticator secret (replacing any earlier unconfirmed one). Replacing an
    app that is in use takes a current code from it or a recovery code."""
    if not rbac.is_staff(user):
        raise ValidationError(NOT_STAFF)
    if is_enabled(user):
        verify(user, token)  # outside the transaction below, so a wrong code still counts
    with transaction.atomic():
        SealedTOTPDevice.objects.devices_for_user(user, confirmed=False).delete()
        return SealedTOTPDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False, key=SealedTOTPDevice.new_key()
        )


def recovery_code_digest(code: str, secret: str | None = None) -> str:
    """What is stored of a recovery code: HMAC-SHA256 keyed with SECRET_KEY (or `secret`), 16 hex
    digits (the width of django-otp's token column)."""
    digest = salted_hmac(
        "accounts.two_factor.recovery_code", normalise(code), secret=secret, algorithm="sha256"
    )
    return digest.hexdigest()[:16]


def _stored_recovery_code(device: StaticDevice, code: str) -> str:
    """The stored digest matching `code` under SECRET_KEY or one of SECRET_KEY_FALLBACKS (codes made
    before a key rotation keep working), else its digest under the current key."""
    candidates = [
        recovery_code_digest(code, key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    ]
    stored = device.token_set.filter(token__in=candidates).values_list("token", flat=True).first()
    return stored or candidates[0]


def _recovery_code() -> str:
    # verify() sends a code made only of digits to the authenticator app, so a recovery code must never
    # be one (base32 makes one in about 650,000).
    while (code := StaticToken.random_token()).isdigit():
        pass
    return code


def _new_recovery_codes(user: User) -> list[str]:
    # The device stays (only its codes change): a session verified with a recovery code stays verified.
    device, _ = StaticDevice.objects.get_or_create(user=user, defaults={"name": "Recovery codes"})
    device.token_set.all().delete()
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=recovery_code_digest(code)) for code in codes
    )
    return codes


def two_factor_cancel(user: User, device_id: int | None, *, actor: User) -> None:
    """Abandon a set-up under way (the app in use, if any, stays). Not audited, as its start is not: an
    unconfirmed secret grants nothing."""
    SealedTOTPDevice.objects.devices_for_user(user, confirmed=False).filter(pk=device_id).delete()


def two_factor_enable(
    user: User, *, device_id: int | None, token: str, password: str, actor: User,
    keep_session_key: str | None = None,
) -> tuple[SealedTOTPDevice, list[str]]:  # fmt: skip
    """Confirm the set-up under way (`device_id`) with a code from it and the account's current password;
    returns the device and new recovery codes. The account's other sessions, signed in without the second
    step, are signed out: all but `keep_session_key` (the one that set it up).

    The password is checked first, so a mistyped one costs no code (a code works once). The code is
    checked in its own transaction, so a wrong guess still counts towards throttling.
    """
    enrolment = pending_enrolment(user, device_id)
    if enrolment is None:
        finished = SealedTOTPDevice.objects.devices_for_user(user, confirmed=True).filter(pk=device_id)
        raise ValidationError(ALREADY_ON if finished.exists() else NOT_ENROLLED)
    services.require_password(user, password)
    # django-otp refuses every code while a wrong one's back-off lasts: say so, not "not valid".
    allowed, _ = enrolment.device.verify_is_allowed()
    if not allowed:
        raise ValidationError({"code": CODE_THROTTLED})
    device = django_otp.verify_token(user, enrolment.device.persistent_id, normalise(token))
    if device is None:
        raise ValidationError({"code": CODE_INVALID})
    with transaction.atomic():
        replaced, _ = SealedTOTPDevice.objects.devices_for_user(user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        was_on = bool(replaced)  # this replaces an app in use
        audit.record("two_factor_enable", actor=actor, obj=user, changes={"two_factor": (was_on, True)},
                     category=SECURITY)  # fmt: skip
        services.user_sign_out_sessions(user, actor=actor, keep_session_key=keep_session_key)
    return device, codes


def recovery_codes_regenerate(user: User, *, actor: User, token: str) -> list[str]:
    """New recovery codes (the old ones stop working), given a current code."""
    if not is_enabled(user):
        raise ValidationError(NOT_ON)
    verify(user, token)
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit.record("recovery_codes_regenerate", actor=actor, obj=user, category=SECURITY)
    return codes


def two_factor_disable(
    user: User, *, actor: User, site_requires: bool, token: str = "", password: str = ""
) -> None:
    """Switch two-factor off for oneself (refused where it is required, and only with the current
    password and a current code) or, by an administrator for someone else, reset it. A reset also ends
    the person's sessions: a lost phone may have gone with a signed-in browser, and the next sign-in is
    then the one that sets two-factor up again."""
    resetting_someone_else = actor.pk != user.pk
    if resetting_someone_else and not rbac.is_administrator(actor):
        raise ValidationError("Only an administrator can reset another person's two-factor sign-in.")
    if not resetting_someone_else:
        if is_required(user, site_requires=site_requires):
            raise ValidationError(REQUIRED)
        services.require_password(user, password)
        if is_enabled(user):
            verify(user, token)
    with transaction.atomic():
        was_on = is_enabled(user)  # not when only an enrolment never confirmed is removed
        removed = sum(
            model.objects.filter(user=user).delete()[0] for model in (SealedTOTPDevice, StaticDevice)
        )
        if removed:
            audit.record("two_factor_disable", actor=actor, obj=user, changes={"two_factor": (was_on, False)},
                         category=SECURITY)  # fmt: skip
        if was_on:
            services.security_notice_after_commit(user, "two_factor_off")
        if resetting_someone_else:
            services.user_sign_out_sessions(user, actor=actor)


def normalise(token: str) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()[:16]


def verify(user: User, token: str) -> Device:
    """The device that accepts `token` (a 6-digit app code or a recovery code), or ValidationError.

    A token is tried on one device only, chosen by its shape, so a mistyped app code never costs a
    recovery code's throttling and vice versa. Recovery codes are single-use.
    """
    token = normalise(token)
    model = SealedTOTPDevice if token.isdigit() else StaticDevice
    device = model.objects.devices_for_user(user, confirmed=True).first()
    if device is None:
        raise ValidationError({"code": CODE_INVALID})
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise ValidationError({"code": CODE_THROTTLED})
    if isinstance(device, StaticDevice):
        token = _stored_recovery_code(device, token)
    verified = django_otp.verify_token(user, device.persistent_id, token)
    if verified is None:
        audit.record("two_factor_failed", actor=user, obj=user, category=SECURITY)
        raise ValidationError({"code": CODE_INVALID})
    if isinstance(verified, StaticDevice):
        left = verified.token_set.count()
        audit.record("recovery_code_used", actor=user, obj=user, changes={"codes_left": (left + 1, left)},
                     category=SECURITY)  # fmt: skip
    return verified
