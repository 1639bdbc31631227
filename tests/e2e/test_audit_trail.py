"""Browser: a supervisor reads, filters and exports the audit trail under the Content-Security-Policy."""

from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("demo")
def test_supervisor_filters_and_exports_the_audit_trail(page, live_server):
    sign_in(page, live_server, "supervisor@example.com")
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("heading", name="Audit trail").wait_for()
    page.get_by_label("Category").select_option("security")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/audit/?*category=security*")
    rows = page.locator("#events tbody tr")
    rows.first.wait_for()
    assert "login" in rows.first.inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export these events (CSV)").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith('"sequence","time","actor"') and ',"login",' in csv_text
