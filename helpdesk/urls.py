from django.contrib import admin
from django.urls import include, path

from helpdesk import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("kb/", include("knowledge.urls")),
    # The admin's own sign-in form would skip two-factor and throttling: everyone signs in at one door.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "Helpdesk administration"
admin.site.site_title = "Helpdesk admin"

handler400 = "helpdesk.views.bad_request"
