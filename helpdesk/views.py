"""Site-wide pages: the portal home. Error pages are Django's defaults with templates/40x.html, 500.html."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "helpdesk/home.html")
