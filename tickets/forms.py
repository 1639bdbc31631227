"""Portal forms: submitting a ticket (with custom fields from the form's schema) and replying."""

import functools
import uuid
from collections.abc import Collection

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.urls import reverse_lazy
from django.utils.functional import lazy

from accounts import rbac
from accounts.forms import EmailAddressField
from accounts.models import Team
from helpdesk.forms import MarkdownTextField, OneLineNameField, parse_id
from tickets import schema
from tickets.attachments import (
    ALLOWED_EXTENSIONS,
    MAX_FILES,
    distinct_uploads,
    held_read,
    held_token,
    passing_uploads_hold,
    safe_filename,
    uploads_passing,
    validate_uploads,
)
from tickets.filters import TicketQueueFilter
from tickets.models import HeldUpload, SavedView, Ticket, TicketForm, TicketMessage

CUSTOM_PREFIX = "cf_"
FILES_AFTER_SIGN_IN = "Files cannot wait over a sign-in: once signed in, choose them again."
FILES_NOT_KEPT = "The files you added were not kept: choose them again when you send this."
FILES_BEYOND_LIMIT = (
    "Not kept, as a message takes {limit} files: {names}. Remove others to make room, then choose them again."
)
NAMES_SHOWN = 20  # past these, "and N more": a folder of a thousand files must not make a page of names


UNREADABLE_VERSION = -1  # no ticket has it: a mangled version is refused as stale, never skipped


def posted_version(data) -> int | None:
    """The ticket version a plain form posted (its page's), or None when it sent none."""
    return read_version(data.get("version"))


def read_version(posted: str | None) -> int | None:
    """A posted ticket version: None when none was sent (nothing to check), UNREADABLE_VERSION for one
    that does not read (refused as stale)."""
    if posted is None or not posted.strip():
        return None
    version = parse_id(posted)
    return UNREADABLE_VERSION if version is None else version


FILE_FIELDS = ("held", "attachments")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def _attachments_help() -> str:
    return _attachments_help_for(settings.ATTACHMENT_MAX_BYTES)


@functools.cache  # rendered with every composer: built once per size limit, not per page
def _attachments_help_for(limit: int) -> str:
    return (
        f"Up to {MAX_FILES} files of at most {filesizeformat(limit)} each: {', '.join(ALLOWED_EXTENSIONS)}."
    )


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", lazy(_attachments_help, str)())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [item for item in data if item] if isinstance(data, list | tuple) else [data] if data else []
        cleaned, errors = [], []
        for upload in files:
            try:
                cleaned.append(super().clean(upload, initial))
            except ValidationError as error:
                # Among several files, "The submitted file is empty." would not say which one.
                name = safe_filename(getattr(upload, "name", "") or "") or "A file"
                errors += [f"{name}: {message}" for message in error.messages]
        if errors:
            raise ValidationError(errors)
        return cleaned


class HeldFilesField(forms.MultipleChoiceField):
    """Files kept from the form's last sending (HeldUpload), ticked to send them with it; the choices
    are the page's own (signed tokens), read back by AttachmentsForm."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Files you chose before")
        kwargs.setdefault("help_text", "Kept for this form: untick a file to leave it out.")
        super().__init__(required=False, choices=(), **kwargs)

    def valid_value(self, value) -> bool:
        return True  # a token, checked against its signature and holder in AttachmentsForm.clean_held


class AttachmentsForm(forms.Form):
    """A form that sends files. When it comes back (invalid, stale, refused), the files that passed the
    checks are kept for whoever sent them (`holder`: the signed-in user, or None for a visitor) and
    offered ticked, so nothing chosen is lost; the view calls hold_files() before rendering it again."""

    attachments = MultipleFileField(label="Attachments")
    held = HeldFilesField()

    def __init__(self, *args, holder=None, visitor: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.holder, self.visitor = holder, visitor  # visitor: attachments.visitor_key() for a visitor

    def clean_held(self):
        held, self.held_problems = held_read(
            self.cleaned_data["held"], holder=self.holder, visitor=self.visitor
        )
        return held

    def already_sent(self) -> bool:
        """Whether this very form was sent before (SubmissionKeyForm knows)."""
        return False

    def clean(self):
        cleaned = super().clean()
        # A kept file is gone once sent: the same form sent twice (a double click) is not told to
        # choose it again, but lands where the first sending did (the service finds it by its key).
        problems = getattr(self, "held_problems", ())
        if problems and not self.already_sent():
            for problem in problems:  # beside the file input
                self.add_error("attachments", problem)
        # The field refused a file (an empty one): the others are still checked, so that every file
        # refused is named at once, not one problem per sending.
        uploads = self.uploads()
        if "attachments" not in self.cleaned_data:
            chosen = self.files.getlist(self.add_prefix("attachments")) if self.files else []
            uploads = [*uploads, *(upload for upload in chosen if upload.size)]
        try:
            validate_uploads(uploads)
        except forms.ValidationError as error:
            self.add_error(None, error)
        return cleaned

    def uploads(self) -> list:
        """The files to send: those kept from before, then those chosen now (but one chosen again)."""
        held, chosen = self.cleaned_data.get("held", ()), self.cleaned_data.get("attachments", ())
        return distinct_uploads([*held, *chosen])

    @property
    def files_named(self) -> list[str]:
        """The files this form keeps for its next sending (hold_files), as the page names them."""
        return [label for _, label in self.fields["held"].choices]

    def hold_files(self, *, new: bool = True) -> None:
        """Keep the files sent with this form (those that passed the checks; with `new` false none, and
        the form says so) and those still kept from before, ticked, for the form that comes back:
        MAX_FILES at most, as a form sends no more."""
        if not self.is_bound:
            return
        kept = list(self.cleaned_data.get("held", ()))
        sent = [upload for upload in self.files.getlist(self.add_prefix("attachments")) if upload.size]
        sent = [upload for upload in distinct_uploads([*kept, *sent]) if not isinstance(upload, HeldUpload)]
        if not new and sent:
            self.add_error("attachments", FILES_NOT_KEPT)
        passing = uploads_passing(sent) if new else []
        room = max(0, MAX_FILES - len(kept))
        if beyond := passing[room:]:
            self.add_error(
                "attachments",
                FILES_BEYOND_LIMIT.format(
                    limit=MAX_FILES, names=names_listed([upload for upload, _ in beyond])
                ),
            )
        kept += passing_uploads_hold(passing[:room], holder=self.holder, visitor=self.visitor)
        choices = [
            (held_token(held, visitor=self.visitor), f"{held.filename} ({filesizeformat(held.size)})")
            for held in kept
        ]
        self.fields["held"].choices = choices
        self.data = self.data.copy()
        self.data.setlist(self.add_prefix("held"), [token for token, _ in choices])


def names_listed(uploads: list) -> str:
    names = [safe_filename(upload.name or "") for upload in uploads[:NAMES_SHOWN]]
    if (more := len(uploads) - NAMES_SHOWN) > 0:
        names.append(f"and {more} more")
    return ", ".join(names)


class SubmissionKeyForm(AttachmentsForm):
    """A form with a hidden submission_key, which makes sending it twice harmless. A key that does not
    read (a page altered, or one from an older version) is not a field the visitor can correct: it is
    said above the form, and the view sends the form back with a fresh key."""

    KEY_REFUSED = "This form could not be read in full. Check what you wrote below and send it again."

    # Not required: a page from before this field existed still sends its message.
    submission_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("submission_key", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def already_sent(self) -> bool:
        key = self.cleaned_data.get("submission_key")
        return key is not None and (
            TicketMessage.objects.filter(submission_key=key).exists()
            or Ticket.objects.filter(submission_key=key).exists()
        )

    def renew_key(self) -> None:
        """A form that comes back made nothing with its key: a fresh one lets the corrected request
        through, even when the key itself was the problem."""
        self.data = self.data.copy()
        self.data[self.add_prefix("submission_key")] = str(uuid.uuid4())

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and self._errors.pop("submission_key", None):
            self.cleaned_data.pop("submission_key", None)
            self.add_error(None, self.KEY_REFUSED)


class OneAnswerEach:
    """For forms with custom fields: several values sent for a question that takes one (schema's
    `one_answer`: a field made a single choice while the page was open) are refused, not cut to the
    last one sent."""

    def clean(self):
        cleaned = super().clean()
        if hasattr(self.data, "getlist"):
            for name, field in self.fields.items():
                if getattr(field, "one_answer", False) and len(self.data.getlist(self.add_prefix(name))) > 1:
                    self.add_error(name, schema.MANY_ANSWERS)
        return cleaned


class TicketSubmitForm(OneAnswerEach, SubmissionKeyForm):
    # Checked as it will be stored: a name that grows as it is composed, or of invisible characters only.
    name = OneLineNameField(
        label="Your name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = EmailAddressField(label="Your e-mail address")
    subject = forms.CharField(
        max_length=200,
        widget=forms.TextInput(
            attrs={
                # Deflection: matching articles appear beside the form while the subject is typed.
                "hx-get": reverse_lazy("knowledge:suggest"),
                "hx-trigger": "input changed delay:400ms",
                "hx-target": "#suggestions",
                "hx-sync": "this:replace",
                "autocomplete": "off",
            }
        ),
    )
    description = MarkdownTextField(
        label="How can we help?",
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=50_000,
        help_text="Markdown works: **bold**, lists, `code`, links.",
    )
    submission_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, ticket_form: TicketForm | None, anonymous: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ticket_form = ticket_form
        if not anonymous:
            del self.fields["name"]
            del self.fields["email"]
        if ticket_form is not None:
            for definition in ticket_form.definitions:
                self.fields[CUSTOM_PREFIX + definition["name"]] = schema.form_field(definition)
        # Keep the file input last, after the custom fields.
        self.order_fields([name for name in self.fields if name not in (*FILE_FIELDS, "submission_key")])
        # A subject already typed (the form sent back with an error, a draft restored after signing in)
        # asks for its suggestions as the page loads, not only once it is typed in again.
        if str(self["subject"].value() or "").strip():
            subject = self.fields["subject"].widget
            subject.attrs = {**subject.attrs, "hx-trigger": f"{subject.attrs['hx-trigger']}, load"}

    def custom_field_data(self) -> dict:
        """Custom values for the service, which validates them against the schema again."""
        return {
            name.removeprefix(CUSTOM_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CUSTOM_PREFIX)
        }

    def custom_fields(self):
        return [self[name] for name in self.fields if name.startswith(CUSTOM_PREFIX)]

    def standard_fields(self):
        return [
            self[name]
            for name in self.fields
            if not name.startswith(CUSTOM_PREFIX) and name not in (*FILE_FIELDS, "submission_key")
        ]


class ReplyForm(SubmissionKeyForm):
    body = MarkdownTextField(label="Your reply", widget=forms.Textarea(attrs={"rows": 5}), max_length=50_000)


class PortalFilterForm(forms.Form):
    # "Waiting for your reply" as the ticket's own badge says it (workflow.CUSTOMER_LABELS).
    STATUS_CHOICES = [
        ("open", "Open"),
        ("waiting", "Waiting for your reply"),
        ("solved", "Solved"),
        ("all", "All"),
    ]
    SCOPE_CHOICES = [("mine", "My tickets"), ("organization", "My organisation's tickets")]

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    q = forms.CharField(label="Search", required=False, max_length=200)
    scope = forms.ChoiceField(choices=SCOPE_CHOICES, required=False, label="Show")


class WorkspaceReplyForm(SubmissionKeyForm):
    KIND_CHOICES = [("reply", "Public reply"), ("note", "Internal note")]
    # The workspace writes the "Send as" radios out itself (components/_form_errors.html links here).
    error_targets = {"kind": "kind-reply"}
    STATUS_AFTER_CHOICES = [
        ("", "Keep the status"),
        ("open", "Open"),
        ("pending", "Pending (waiting on customer)"),
        ("on_hold", "On hold"),
        ("resolved", "Resolved"),
    ]

    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="reply", widget=forms.RadioSelect, label="Send as")
    body = MarkdownTextField(label="Message", widget=forms.Textarea(attrs={"rows": 6}), max_length=50_000)
    status_after = forms.ChoiceField(choices=STATUS_AFTER_CHOICES, required=False, label="Then set status")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def offer_statuses(self, statuses: Collection[str]) -> None:
        """Offer only the statuses the ticket can move to now (and the one chosen, to show it back
        beside the refusal): the others could only be refused. Validation keeps every choice, so a
        status that became impossible meanwhile is refused by the workflow, with its reason."""
        chosen = self["status_after"].value() if self.is_bound else None
        self.fields["status_after"].choices = [
            (value, label)
            for value, label in self.STATUS_AFTER_CHOICES
            if not value or value in statuses or value == chosen
        ]


class SavedViewForm(forms.Form):
    QUERY_MAX_LENGTH = SavedView._meta.get_field("query").max_length
    QUERY_TOO_LONG = "These filters are too long to save as a view: shorten the search or remove a filter."

    name = OneLineNameField(max_length=80, label="View name")
    # Only what clean_query keeps must fit the column; the bound here merely refuses absurd posts.
    query = forms.CharField(
        max_length=QUERY_MAX_LENGTH * 10,
        widget=forms.HiddenInput,
        required=False,
        label="Filters",
        error_messages={"max_length": QUERY_TOO_LONG},
    )
    team = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Only me",
        label="Share with",
        error_messages={
            "invalid_choice": "That team is no longer one you can share with: choose another, or only you."
        },
    )

    # Sent by "Replace it", offered beside the refusal of a name the agent has a view of already.
    replace = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(
            pk__in=rbac.workable_team_ids(user), is_active=True
        )

    def clean_query(self) -> str:
        # Only the filter keys survive: a saved view can never carry anything else into the queue.
        allowed = set(TicketQueueFilter.base_filters) | {
            "sort",
            "created_after",
            "created_before",
            "updated_after",
            "updated_before",
            "solved_after",
            "solved_before",
        }
        source = QueryDict(self.cleaned_data.get("query", ""))
        kept = QueryDict(mutable=True)
        for key in source:
            if key in allowed:
                kept.setlist(key, source.getlist(key))
        # Encoding again can lengthen it ("ü" becomes "%C3%BC"): checked here, not by the database.
        if len(query := kept.urlencode()) > self.QUERY_MAX_LENGTH:
            raise forms.ValidationError(self.QUERY_TOO_LONG)
        return query


class CustomFieldsForm(OneAnswerEach, forms.Form):
    """A ticket's custom fields, built from its form's schema, for inline editing in the workspace.
    `stored` is the ticket's values: each stays on offer (and valid) as the schema's fields allow."""

    def __init__(self, *args, definitions: list[dict], stored: dict, **kwargs) -> None:
        super().__init__(*args, prefix="cf", **kwargs)
        self.initial = dict(stored)  # a copy: shown values must not reach the ticket's own dict
        for definition in definitions:
            value = stored.get(definition["name"])
            self.fields[definition["name"]] = schema.edit_field(definition, stored)
            self.initial[definition["name"]] = schema.initial_value(definition, value)
