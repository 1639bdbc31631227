"""Sign in (with the second factor), sign up, profile, sessions, two-factor and password pages.
Invalid forms answer 422 with the input kept."""

import time
from urllib.parse import urlsplit

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts import rbac, services, tasks, two_factor
from accounts.forms import (
    EmailChangeForm,
    LoginForm,
    PasswordResetForm,
    ProfileForm,
    SignupForm,
    TwoFactorCodeForm,
    TwoFactorDisableForm,
    TwoFactorEnableForm,
)
from accounts.lockouts import lockout_response
from accounts.models import EmailChangeRequest, User
from accounts.tokens import link_lifetime
from helpdesk.display import shown_count
from helpdesk.forms import add_service_errors, is_sign_out_path, is_site_path
from helpdesk.links import mail_site
from helpdesk.middleware import site_configuration
from helpdesk.ratelimit import posted, rate_limit, rate_limited, wait_phrase

INVITATION_SIGNED_IN = (
    "You are signed in as {email}. To accept the invitation, sign out, then open its link again."
)
SIGNED_UP_TOO_OFTEN = (
    "Please slow down: this address was sent for sign-up too often in a short time. Wait {wait}, then "
    "send this again."
)
TWO_FACTOR_PENDING = "two_factor_pending"
TWO_FACTOR_PENDING_SECONDS = 300
# The authenticator set-up this session started (two_factor.pending_enrolment).
TWO_FACTOR_ENROLMENT = "two_factor_enrolment"
# The actions of the two-factor page that ask for the account's current password.
TWO_FACTOR_PASSWORD_ACTIONS = {"confirm", "disable"}


class UnprocessableOnInvalid:
    """For Django's class-based auth views: an invalid form answers 422, not 200."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 422
        return response


@method_decorator(rate_limit("login", account=posted("username")), name="dispatch")
class LoginView(UnprocessableOnInvalid, auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        # A signed-in visit with next= naming this page would send them here again, which Django
        # refuses as a loop (a server error): such a next is no destination.
        url = super().get_redirect_url()
        path = urlsplit(url).path
        return "" if path == self.request.path or is_sign_out_path(path) else url

    def form_valid(self, form):
        user: User = form.get_user()
        if not two_factor.is_enabled(user):
            return super().form_valid(form)
        # The password was right; the account is signed in only after the second factor. A new session
        # key now, as login() would give: a cookie planted before must not carry the checked password.
        self.request.session.cycle_key()
        self.request.session[TWO_FACTOR_PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "since": time.time(),
            "next": self.get_success_url(),
            # The password as it was checked: a reset or change before the code is entered ends this.
            "password": user.get_session_auth_hash(),
        }
        return redirect("accounts:two_factor_verify")


def pending_sign_in(request: HttpRequest) -> str | None:
    pending = request.session.get(TWO_FACTOR_PENDING)
    return f"user-{pending['user']}" if pending else None


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("two_factor", account=pending_sign_in)
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in for accounts with two-factor sign-in."""
    pending = request.session.get(TWO_FACTOR_PENDING)
    if pending is None and request.user.is_authenticated:
        return redirect("home")  # signed in already (the back button, a bookmark): nothing to ask
    user = User.objects.filter(pk=pending["user"]).first() if pending else None
    if (
        user is None
        or time.time() - pending["since"] > TWO_FACTOR_PENDING_SECONDS
        or not user.is_active
        or not constant_time_compare(pending.get("password", ""), user.get_session_auth_hash())
    ):
        request.session.pop(TWO_FACTOR_PENDING, None)
        messages.info(request, "Please sign in again.")
        return redirect("accounts:login")
    # The code is part of signing in: a lockout since the password step (guesses from elsewhere, or at
    # this address) holds here too, or the sign-in would go through it and lift it (AXES_RESET_ON_SUCCESS).
    credentials = {settings.AXES_USERNAME_FORM_FIELD: user.email}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(TWO_FACTOR_PENDING, None)
        return lockout_response(request, credentials=credentials)
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify(user, form.cleaned_data["code"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            del request.session[TWO_FACTOR_PENDING]
            user.otp_device = device  # django-otp marks the new session verified when it logs in
            login(request, user, backend=pending["backend"])
            if isinstance(device, StaticDevice):  # a recovery code: the person may be without their phone
                left = device.token_set.count()
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "If your phone is lost, move to a new one on the two-factor page.",
                )
            if not is_site_path(request, pending["next"]):
                return redirect("home")
            return HttpResponseRedirect(pending["next"])
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/two_factor_verify.html", {"form": form}, status=status)


def asks_current_password(request: HttpRequest) -> bool:
    return request.POST.get("action") in TWO_FACTOR_PASSWORD_ACTIONS


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
# The current password is asked before the second factor goes on or off: a stolen session must not guess it
# freely (the limit of the password change on the profile, which asks for it too).
@rate_limit("password_change", when=asks_current_password)
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    """Set up, replace, renew recovery codes for, or switch off two-factor sign-in (staff only). Turning it
    on or off asks for the current password; once it is on, every change asks for a current code, so a
    borrowed session can neither take the account over nor lock its owner out."""
    user: User = request.user
    # Set up by staff; kept by whoever has it on (an agent since made a customer is still asked for
    # codes, and must be able to renew them, move phones or switch it off).
    if not rbac.is_staff(user) and not two_factor.is_enabled(user):
        raise Http404
    site_requires = site_configuration(request).require_two_factor
    action = request.POST.get("action", "")
    enrolling = request.session.get(TWO_FACTOR_ENROLMENT)
    if action == "start" and not two_factor.is_enabled(user):
        request.session[TWO_FACTOR_ENROLMENT] = two_factor.two_factor_start(user, actor=user).pk
        return redirect("accounts:two_factor")
    if action == "cancel":
        two_factor.two_factor_cancel(user, enrolling, actor=user)
        request.session.pop(TWO_FACTOR_ENROLMENT, None)
        messages.info(request, "The set-up was cancelled.")
        return redirect("accounts:two_factor")
    enable_form = TwoFactorEnableForm(request.POST if action == "confirm" else None)
    code_form = TwoFactorCodeForm(
        request.POST if action in {"replace", "codes"} else None, beside_set_up=bool(enrolling)
    )
    disable_form = TwoFactorDisableForm(request.POST if action == "disable" else None)
    posted_form = {"confirm": enable_form, "replace": code_form, "codes": code_form, "disable": disable_form}
    form = posted_form.get(action)
    codes: list[str] = []
    if form is not None and form.is_valid():
        token = form.cleaned_data["code"]
        try:
            if action == "confirm":
                password = form.cleaned_data["password"]
                # The set-up's id stays in the session: a second click then hears it was finished.
                device, codes = two_factor.two_factor_enable(
                    user, device_id=enrolling, token=token, password=password, actor=user,
                    keep_session_key=request.session.session_key,
                )  # fmt: skip
                django_otp.login(request, device)
                messages.success(request, "Two-factor sign-in is on. Your other sessions are signed out.")
            elif action == "replace":
                device = two_factor.two_factor_start(user, actor=user, token=token)
                request.session[TWO_FACTOR_ENROLMENT] = device.pk
                return redirect("accounts:two_factor")
            elif action == "codes":
                codes = two_factor.recovery_codes_regenerate(user, actor=user, token=token)
            elif action == "disable":
                two_factor.two_factor_disable(
                    user,
                    actor=user,
                    site_requires=site_requires,
                    token=token,
                    password=form.cleaned_data["password"],
                )
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("accounts:two_factor")
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            # Done: the code that was used is not shown again.
            enable_form, code_form = TwoFactorEnableForm(), TwoFactorCodeForm(beside_set_up=bool(enrolling))
    enrolment = two_factor.pending_enrolment(user, request.session.get(TWO_FACTOR_ENROLMENT))
    set_up_gone = action == "confirm" and enrolment is None
    if set_up_gone and enable_form.errors:
        # Its fields are not on the page: the error summary says the set-up is gone, and links to no box.
        for name in [name for name in enable_form.errors if name != NON_FIELD_ERRORS]:
            del enable_form.errors[name]
        if not enable_form.non_field_errors():
            enable_form.add_error(None, two_factor.NOT_ENROLLED)
    enabled = two_factor.is_enabled(user)
    stale = form is not None and form is not enable_form and form.errors and not enabled
    if stale:
        # Sent from a page that showed two-factor on, switched off since (in another tab): its form is
        # not on the page that answers, so the refusal is said at the top, linking to no box.
        for name in [name for name in form.errors if name != NON_FIELD_ERRORS]:
            del form.errors[name]
        if not form.non_field_errors():
            form.add_error(None, two_factor.NOT_ON)
    context = {
        "enable_form": enable_form,
        "stale_form": form if stale else None,
        "form": code_form,
        "disable_form": disable_form,
        "codes": codes,
        "enabled": enabled,
        "required": two_factor.is_required(user, site_requires=site_requires),
        "enrolment": enrolment,
        "codes_left": StaticToken.objects.filter(device__user=user).count(),
    }
    status = 422 if form is not None and form.errors else 200
    return render(request, "accounts/two_factor.html", context, status=status)


@method_decorator(rate_limit("password_reset", account=posted("email", sender_first=False)), name="dispatch")
class PasswordResetView(UnprocessableOnInvalid, auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # The same work for every address, known or not: the look-up and the mail are a background task.
        domain, use_https = mail_site(self.request)
        tasks.send_password_reset_mail.enqueue(form.cleaned_data["email"], domain=domain, use_https=use_https)
        return redirect(self.get_success_url())


class LogoutView(auth_views.LogoutView):
    def get_redirect_url(self) -> str:
        # Django renders the admin's "Logged out" page for a next naming this very address: home instead.
        url = super().get_redirect_url()
        return "" if is_sign_out_path(urlsplit(url).path) else url

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        # The desk's list fragment is kept in the browser's cache for its 304s (no-cache, not no-store):
        # signing out empties that cache, so a shared computer keeps no copy of it.
        response["Clear-Site-Data"] = '"cache"'
        return response


class PasswordResetConfirmView(UnprocessableOnInvalid, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_user(self, uidb64):
        # A link mailed before a suspension reads as no longer valid while the suspension lasts.
        user = super().get_user(uidb64)
        return None if user is None or user.effective_status() == User.Status.SUSPENDED else user

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Whose password it sets: opened where another account is signed in, it is not that one's.
        if self.validlink:
            context["account"] = self.user
            context["signed_in_elsewhere"] = (
                self.request.user.is_authenticated and self.request.user.pk != self.user.pk
            )
        return context

    def form_valid(self, form):
        # Django's view saves the new password itself; the service records it, verifies the address the
        # link went to, activates a pending account and signs out whoever knew the old password, in the
        # same transaction.
        with transaction.atomic():
            # The link was checked against the password as it stood when this request began: another
            # tab sending the same link at the same moment may have set one since. Checked again on the
            # locked row, the link works once.
            current = User.objects.select_for_update().get(pk=form.user.pk)
            # Suspended meanwhile (while the new password was checked against the old ones): refused,
            # as the link is from the start of a suspension.
            if current.password != form.user.password or current.effective_status() == User.Status.SUSPENDED:
                self.validlink = False
                return self.render_to_response(self.get_context_data(form=form), status=422)
            # The form saves the whole account it holds: the locked row, not the one read before, so an
            # administrator's change made meanwhile (a suspension, a new name) is not written back over.
            form.user = current
            response = super().form_valid(form)
            services.user_password_reset(form.user, actor=form.user)
        if self.request.user.pk == form.user.pk:
            # Signed in to this account in this browser: its session ended with the others, and saving the
            # ended one would fail (a 400 after the password was set). A fresh, signed-out one instead.
            self.request.session.flush()
        return response


@never_cache  # the invitation mail's link holds its code, which joins the organisation
@require_http_methods(["GET", "HEAD", "POST"])
# Per IP, every sending; per address (the account it would be), only those that pass the form's own checks:
# below, in the view.
@rate_limit("signup", account=lambda request: None)
def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up, or sign-up with an invitation code (its mailed link fills in the code and the
    address); afterwards the visitor goes on to where the sign-in page was to send them (`next`)."""
    if request.user.is_authenticated:
        if "code" in request.GET:  # an invitation's link, opened where another account is signed in
            messages.info(request, INVITATION_SIGNED_IN.format(email=request.user.email))
        return redirect("home")
    open_signup = site_configuration(request).open_signup
    next_page = request.POST.get("next") or request.GET.get("next", "")
    next_page = next_page if is_site_path(request, next_page) else ""
    initial = {"invitation_code": request.GET.get("code", "")[:64], "email": request.GET.get("email", "")}
    form = SignupForm(
        request.POST if request.method == "POST" else None, open_signup=open_signup, initial=initial
    )
    wait = None
    # A password refused as too short is an honest mistake, and a stranger's bad sendings with someone's
    # address would shut its owner out: counted per address, they made one shut out for an hour.
    if request.method == "POST" and form.is_valid():
        wait = rate_limited(request, "signup", account=posted("email"), per_ip=False)
    if wait is not None:
        form.add_error(None, SIGNED_UP_TOO_OFTEN.format(wait=wait_phrase(wait)))
    elif request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(**form.cleaned_data, open_signup=open_signup, actor=None)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            login(request, user, backend="accounts.backends.RoleAwareBackend")
            if user.email_verified_at is None:
                _email_verification_mail(request, user)
                confirm = f"To confirm your address, open the link we sent to {user.email}."
                messages.success(request, f"Welcome! Your account is ready. {confirm}")
            else:
                messages.success(request, "Welcome! Your account is ready.")
            return HttpResponseRedirect(next_page) if next_page else redirect("home")
    status = (422 if wait is None else 429) if request.method == "POST" else 200
    context = {"form": form, "open_signup": open_signup, "next": next_page}
    # An invitation's link opened after it expired (or was used up, or withdrawn): said before anything is
    # typed, not after the form is filled in.
    if request.method != "POST" and initial["invitation_code"]:
        context["invitation_problem"] = services.invitation_problem(initial["invitation_code"])
    response = render(request, "accounts/signup.html", context, status=status)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _email_verification_mail(request: HttpRequest, user: User) -> None:
    domain, use_https = mail_site(request)
    tasks.send_email_verification_mail.enqueue(user.pk, domain=domain, use_https=use_https)


@login_required
@require_POST
@rate_limit("email_verification")
def email_verification_send(request: HttpRequest) -> HttpResponse:
    """Mail the signed-in account a new link that confirms its address (the first may be lost or old)."""
    user: User = request.user
    if user.email_verified_at is not None:
        messages.info(request, "Your e-mail address is confirmed already.")
    else:
        _email_verification_mail(request, user)
        messages.success(
            request, f"We sent a new link to {user.email}. It works once and expires after {link_lifetime()}."
        )
    return redirect("accounts:profile")


def _linked_user(uidb64: str) -> User | None:
    try:
        return User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uidb64)))).first()
    except (TypeError, ValueError, OverflowError):
        return None


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def email_verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The mailed link: GET shows a button, the POST it sends confirms the address (a link checker or a
    mail scanner opening the link changes nothing); anyone but the signed-in owner is asked to sign in
    (services.email_link_state)."""
    user = _linked_user(uidb64)
    state = services.email_link_state(user, token, viewer=request.user)
    if request.method == "POST" and state != "done":
        try:
            if state != "ready":
                raise ValidationError(services.EMAIL_LINK_INVALID)
            services.user_email_confirm(user, token, actor=request.user)
        except ValidationError:
            # A double click: the first sending may have confirmed it while this one waited for the row.
            as_now = User.objects.filter(pk=getattr(user, "pk", None)).first()
            if services.email_link_state(as_now, token, viewer=request.user) == "done":
                return render(request, "accounts/email_verify.html", {"state": "done", "linked_user": user})
            status = 403 if state == "sign_in" else 422
            context = {"state": state if state == "sign_in" else "invalid", "linked_user": user}
            return render(request, "accounts/email_verify.html", context, status=status)
        messages.success(request, f"Thank you: {user.email} is confirmed.")
        return redirect("accounts:profile")
    return render(request, "accounts/email_verify.html", {"state": state, "linked_user": user})


def asks_password_on_profile(request: HttpRequest) -> bool:
    return "change_password" in request.POST or "change_email" in request.POST


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed to a new address: GET shows the change and a button, the POST it sends moves the
    account (a link checker or a mail scanner opening the link changes nothing). Only the account's
    owner, signed in, can use it (services.email_change_link_state)."""
    change = services.email_change_for_link(token)
    state = services.email_change_link_state(change, viewer=request.user)
    status = 200
    if request.method == "POST" and state != "done":
        if state == "ready":
            try:
                services.user_email_change(
                    change, actor=request.user, keep_session_key=request.session.session_key
                )
            except ValidationError as error:
                state = "taken" if "email" in getattr(error, "error_dict", {}) else "invalid"
                # A double click: the first sending may have moved the address while this one waited.
                # (Gone, spent by a newer request meanwhile: then it is no longer valid.)
                as_now = EmailChangeRequest.objects.select_related("user").filter(pk=change.pk).first()
                if services.email_change_link_state(as_now, viewer=request.user) == "done":
                    state = "done"
            else:
                done = f"Your e-mail address is now {change.new_email}. Your other sessions are signed out."
                messages.success(request, done)
                return redirect("accounts:profile")
        status = 200 if state == "done" else 403 if state == "sign_in" else 422
    context = {"state": state, "new_email": change.new_email if change else ""}
    return render(request, "accounts/email_change.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("password_change", when=asks_password_on_profile)
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    form = ProfileForm(
        request.POST if "save_profile" in request.POST else None,
        initial={"name": user.name, "timezone": user.timezone},
    )
    password_form = PasswordChangeForm(user, request.POST if "change_password" in request.POST else None)
    # Django's form focuses its first field; on this page it would skip the details above it.
    password_form.fields["old_password"].widget.attrs.pop("autofocus", None)
    email_form = EmailChangeForm(request.POST if "change_email" in request.POST else None)
    status = 200
    if email_form.is_bound:
        if email_form.is_valid():
            domain, use_https = mail_site(request)
            try:
                new_email = services.user_email_change_request(
                    user,
                    new_email=email_form.cleaned_data["email"],
                    password=email_form.cleaned_data["password"],
                    actor=user,
                    domain=domain,
                    use_https=use_https,
                )
            except ValidationError as error:
                add_service_errors(email_form, error)
            else:
                messages.success(
                    request,
                    f"We sent a link to {new_email}. Your account keeps the address {user.email} until you "
                    f"open that link, signed in (it works once and expires after {link_lifetime()}).",
                )
                return redirect("accounts:profile")
        status = 422
    if form.is_bound:
        if form.is_valid():
            services.profile_update(
                user, name=form.cleaned_data["name"], timezone_name=form.cleaned_data["timezone"], actor=user
            )
            messages.success(request, "Your profile is saved.")
            return redirect("accounts:profile")
        status = 422
    if password_form.is_bound:
        if password_form.is_valid():
            services.user_password_change(
                user,
                password=password_form.cleaned_data["new_password1"],
                actor=user,
                keep_session_key=request.session.session_key,
            )
            update_session_auth_hash(request, user)
            messages.success(request, "Your password is changed. Your other sessions are signed out.")
            return redirect("accounts:profile")
        status = 422
    sessions = user.sessions.filter(expire_date__gt=timezone.now()).order_by("-last_seen")
    context = {
        "form": form,
        "password_form": password_form,
        "email_form": email_form,
        "sessions": sessions,
        "current_session_key": request.session.session_key,
        "two_factor_available": (enabled := two_factor.is_enabled(user)) or rbac.is_staff(user),
        "email_unverified": user.email_verified_at is None,
        "email_change": services.email_change_pending(user),
        "two_factor_enabled": enabled,
    }
    return render(request, "accounts/profile.html", context, status=status)


@login_required
@require_POST
def sessions_sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out one other session (`session` names it by its public id) or all the others."""
    public_id = request.POST.get("session") or None
    ended = services.user_sign_out_sessions(
        request.user, actor=request.user, keep_session_key=request.session.session_key, public_id=public_id
    )
    if ended:
        which = "that session" if public_id else shown_count(ended, "other session")
        messages.success(request, f"Signed out {which}.")
    elif public_id:
        # Ended meanwhile (a second click, another tab): said as such. An id of no session of theirs
        # reads the same, which tells nothing of anyone else's.
        messages.info(request, "That session was signed out already.")
    else:
        messages.info(request, "There was no other session to sign out.")
    return redirect(reverse("accounts:profile") + "#sessions")
