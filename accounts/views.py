"""Sign in, sign up, profile and password pages. Invalid forms answer 422 with the input kept."""

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import LoginForm, PasswordResetForm, ProfileForm, SignupForm
from accounts.models import User
from helpdesk.forms import add_service_errors
from helpdesk.middleware import site_configuration


class UnprocessableOnInvalid:
    """For Django's class-based auth views: an invalid form answers 422, not 200."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class LoginView(UnprocessableOnInvalid, auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordResetView(UnprocessableOnInvalid, auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(UnprocessableOnInvalid, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        user: User = form.user
        if user.status == User.Status.PENDING:
            # Proving control of the mailbox activates an account made by an anonymous submission.
            services.user_activate(user, actor=user)
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    open_signup = site_configuration(request).open_signup
    initial = {"invitation_code": request.GET.get("code", "")[:64]}
    form = SignupForm(request.POST or None, open_signup=open_signup, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(**form.cleaned_data, open_signup=open_signup, actor=None)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            login(request, user, backend="accounts.backends.RoleAwareBackend")
            messages.success(request, "Welcome! Your account is ready.")
            return redirect("home")
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form, "open_signup": open_signup}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    form = ProfileForm(
        request.POST if "save_profile" in request.POST else None,
        initial={"name": user.name, "timezone": user.timezone},
    )
    password_form = PasswordChangeForm(user, request.POST if "change_password" in request.POST else None)
    status = 200
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
            password_form.save()
            update_session_auth_hash(request, password_form.user)
            messages.success(request, "Your password is changed.")
            return redirect("accounts:profile")
        status = 422
    return render(
        request, "accounts/profile.html", {"form": form, "password_form": password_form}, status=status
    )
