"""Messages stored before an ordered list kept its first number (steps after a code block went on from 1
again) and before text nested past twenty quotes or lists showed (it vanished from the page while the body
kept it) are rendered again, as knowledge 0010 and 0018 do for articles.

Only a body with a numbered line, or a line opening with twenty quote or list markers and spaces, can
render differently, and only rows whose HTML changes are written. It renders with helpdesk.markdown as it
stands when the migration runs."""

from django.db import migrations

MAY_CHANGE = r"(^|\n)[ \t>]*[0-9]{1,9}[.)]|(^|\n)([ \t>*+-]|[0-9]{1,9}[.)]){20,}"


def render_again(apps, schema_editor):
    from helpdesk.markdown import render_markdown

    TicketMessage = apps.get_model("tickets", "TicketMessage")
    rows = TicketMessage.objects.filter(body__regex=MAY_CHANGE).values_list("pk", "body", "body_html")
    for pk, body, body_html in rows.iterator(chunk_size=500):
        if (rendered := render_markdown(body)) != body_html:
            TicketMessage.objects.filter(pk=pk).update(body_html=rendered)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0028_organisation_spelt_british")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop, elidable=True)]
