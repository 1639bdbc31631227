"""LongSelect (helpdesk.forms): the time-zone selects of the profile and of the admin's user page write
the markup Django's own Select writes, a label or value that holds markup escaped, the zone chosen
selected, without Django's template per option."""

import pytest
from django import forms
from django.test import SimpleTestCase
from django.urls import reverse

from accounts.forms import ProfileForm
from helpdesk.forms import LongSelect
from tests.factories import make_administrator, make_customer

CHOICES = [
    ("", "---"),
    ("a&b", 'A & "B"'),
    ("<x>", "<script>alert(1)</script>"),
    ("Europe/Kyiv", "Europe/Kyiv"),
]


def as_django_writes_it(field: forms.Field, name: str, value, attrs=None) -> str:
    return forms.Select(choices=field.choices).render(name, value, attrs=attrs)


@pytest.mark.parametrize("value", ["", "a&b", "<x>", "Europe/Kyiv", None, "not offered"])
def test_the_markup_is_djangos_own(value):
    field = forms.ChoiceField(choices=CHOICES, widget=LongSelect)
    attrs = {"id": "id_zone", "required": True, "aria-describedby": "zone-help", "disabled": False}
    written = field.widget.render("zone", value, attrs=attrs)
    SimpleTestCase().assertHTMLEqual(written, as_django_writes_it(field, "zone", value, attrs))
    assert "<script>" not in written and "&lt;script&gt;" in written


def test_the_profile_form_offers_the_zones_with_the_accounts_own_selected():
    initial = {"name": "Carla", "timezone": "America/Argentina/Buenos_Aires"}
    written = str(ProfileForm(initial=initial)["timezone"])
    assert written.count("<option") > 300 and written.count(" selected") == 1
    chosen = '<option value="America/Argentina/Buenos_Aires" selected>America/Argentina/Buenos Aires</option>'
    assert chosen in written
    with_djangos_select = ProfileForm(initial=initial)
    with_djangos_select.fields["timezone"].widget = forms.Select(
        choices=with_djangos_select.fields["timezone"].choices
    )
    SimpleTestCase().assertHTMLEqual(written, str(with_djangos_select["timezone"]))


@pytest.mark.django_db
def test_the_profile_page_and_the_admins_user_page_show_the_zone_chosen(client):
    customer = make_customer(timezone="Asia/Kolkata")
    client.force_login(customer)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert '<option value="Asia/Kolkata" selected>Asia/Kolkata</option>' in page
    client.force_login(make_administrator(is_superuser=True))
    page = client.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()
    assert '<option value="Asia/Kolkata" selected>Asia/Kolkata</option>' in page
    assert 'name="timezone"' in page
