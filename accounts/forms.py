"""Forms for signing in, signing up, the profile and password reset."""

import functools
import zoneinfo
from pathlib import Path

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.mail import EmailMultiAlternatives
from django.template import loader
from django.utils import timezone

from accounts.models import TIMEZONE_CHOICES, User, validate_ascii_email
from accounts.password_validation import PasswordHistoryValidator
from helpdesk.display import shown_time
from helpdesk.forms import LongSelect, OneLineNameField
from helpdesk.mail import AUTOMATIC_HEADERS

SUSPENDED = "This account is suspended{until}.{reason} Contact support if you think this is a mistake."
PENDING = (
    "This account is not activated yet. Use “Forgotten your password?” to set a password and activate it."
)


class EmailAddressField(forms.EmailField):
    """An address an account or an invitation will hold: an internationalised domain typed as people read
    it (anna@bücher.example) is taken in its xn-- form; the rest must be plain ASCII."""

    default_validators = [*forms.EmailField.default_validators, validate_ascii_email]

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", User._meta.get_field("email").max_length)  # the form field's is 320
        kwargs.setdefault("widget", forms.EmailInput(attrs={"autocomplete": "email"}))
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        # As accounts store it (the domain in lower case too): retyped in capitals, it is no change.
        return User.objects.normalize_email(super().to_python(value))


class LoginForm(auth_forms.AuthenticationForm):
    username = auth_forms.UsernameField(
        max_length=254,  # an e-mail address's limit; a longer one would reach axes' 255-character column
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        # The same words for every address (no hint which ones have accounts), with the way in for
        # someone whose account an anonymous request made and who has no password yet.
        "invalid_login": (
            "That e-mail address and password do not match an account. Sent us a request without "
            "an account? Set a password with “Forgotten your password?”."
        ),
    }

    def confirm_login_allowed(self, user: User) -> None:
        status = user.effective_status()
        if status == User.Status.SUSPENDED:
            until = ""
            if user.suspended_until:
                zone = user.zone
                local = shown_time(timezone.localtime(user.suspended_until, zone))
                until = f" until {local} ({str(zone).replace('_', ' ')})"
            reason = user.suspension_reason.strip().rstrip(".")
            reason = f" Reason: {reason}." if reason else ""
            raise forms.ValidationError(SUSPENDED.format(until=until, reason=reason), code="suspended")
        if status == User.Status.PENDING:
            raise forms.ValidationError(PENDING, code="pending")
        super().confirm_login_allowed(user)


class SignupForm(forms.Form):
    name = OneLineNameField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = EmailAddressField(label="E-mail address")
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    invitation_code = forms.CharField(
        max_length=64,
        required=False,
        help_text="The code from your invitation: its e-mail, or as you were given it.",
    )

    def __init__(self, *args, open_signup: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invitation_code"].required = not open_signup
        # A new account has no earlier passwords: the history rule would only puzzle.
        rules = [
            validator
            for validator in password_validation.get_default_password_validators()
            if not isinstance(validator, PasswordHistoryValidator)
        ]
        self.fields["password"].help_text = password_validation.password_validators_help_text_html(rules)

    def clean(self) -> dict:
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class ProfileForm(forms.Form):
    name = OneLineNameField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    timezone = forms.ChoiceField(label="Time zone", choices=TIMEZONE_CHOICES, widget=LongSelect)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = time_zone_choices(self.initial.get("timezone"))


def time_zone_choices(current: str | None) -> list[tuple[str, str]]:
    """The zones people live in (offered_time_zones); the account's own zone stays on offer, chosen
    before or since gone from the tz database (US/Pacific-New), so saving the form does not change it."""
    choices = offered_time_zones()
    if current and current not in dict(choices):
        choices = [(current, current.replace("_", " ")), *choices]
    return choices


@functools.cache  # the file is read once per process, not on every profile page
def offered_time_zones() -> list[tuple[str, str]]:
    """UTC and the tz database's zones by country (zone.tab): not its aliases (Europe/Kiev beside
    Europe/Kyiv), nor Etc/GMT+5, which is five hours *behind* UTC (POSIX signs) and misleads whoever
    picks it for UTC+5. Where zone.tab is not found, every zone (the model's choices)."""
    for base in zoneinfo.TZPATH:
        table = Path(base) / "zone.tab"
        if table.is_file():
            rows = [line.split("\t") for line in table.read_text(encoding="ascii").splitlines()]
            by_country = {row[2] for row in rows if len(row) > 2 and not row[0].startswith("#")}
            return [(name, label) for name, label in TIMEZONE_CHOICES if name in by_country or name == "UTC"]
    return TIMEZONE_CHOICES


class PasswordResetForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label="E-mail address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def get_users(self, email: str):
        # Pending accounts (created by an anonymous ticket submission) activate themselves by
        # setting a password, so they receive reset mail too; suspended accounts do not, unless the
        # suspension has run out (it ends by itself, as at sign-in, before the nightly job stores it).
        for user in User.objects.with_email(email):
            status = user.effective_status()
            if status == User.Status.PENDING or (status == User.Status.ACTIVE and user.has_usable_password()):
                yield user

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        """As Django's, but a mail server that cannot be reached raises instead of being logged: the task
        that sends it tries again later (accounts.tasks.send_password_reset_mail, mail_or_retry), and the
        person waiting for the link gets it once the server answers."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email], headers=AUTOMATIC_HEADERS)
        if html_email_template_name is not None:
            message.attach_alternative(
                loader.render_to_string(html_email_template_name, context), "text/html"
            )
        message.send()


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false",
                   "autofocus": True}
        ),
    )  # fmt: skip

    def __init__(self, *args, beside_set_up: bool = False, **kwargs) -> None:
        # Beside a set-up's form (a move to a new phone), its box is named apart: the same name in its
        # own form, but an id, and so a label and a help text, of its own.
        if beside_set_up:
            kwargs["auto_id"] = "current-%s"
        super().__init__(*args, **kwargs)
        if beside_set_up or self.prefix:  # another form on the page takes the focus
            self.fields["code"].widget.attrs.pop("autofocus", None)


class CurrentPasswordField(forms.CharField):
    """The account's current password, asked again before a change that could lock its owner out."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            label="Your password",
            strip=False,
            help_text="Your current password, so we know it is you and not someone at your computer.",
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            **kwargs,
        )


class EmailChangeForm(forms.Form):
    email = EmailAddressField(
        label="New e-mail address",
        help_text="We mail a link to it: your account moves to the new address when you open that link.",
    )
    password = CurrentPasswordField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, auto_id="email-change-%s", **kwargs)


class TwoFactorEnableForm(TwoFactorCodeForm):
    password = CurrentPasswordField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = "The 6-digit code your authenticator app shows now."


class TwoFactorDisableForm(TwoFactorCodeForm):
    password = CurrentPasswordField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="disable", **kwargs)
