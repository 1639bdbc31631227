"""Messages stored before the addresses a text's links carry were held to a budget (a reference used
thousands of times made megabytes of HTML, sent with every view of the ticket) and before an image inside
a link showed as the link's words are rendered again.

Only a body with an image ("![") or a reference definition ("]:") can render differently, and only rows
whose HTML changes are written. It renders with helpdesk.markdown as it stands when the migration runs."""

from django.db import migrations
from django.db.models import Q

MAY_CHANGE = Q(body__contains="![") | Q(body__contains="]:")


def render_again(apps, schema_editor):
    from helpdesk.markdown import render_markdown

    TicketMessage = apps.get_model("tickets", "TicketMessage")
    rows = TicketMessage.objects.filter(MAY_CHANGE).values_list("pk", "body", "body_html")
    for pk, body, body_html in rows.iterator(chunk_size=500):
        if (rendered := render_markdown(body)) != body_html:
            TicketMessage.objects.filter(pk=pk).update(body_html=rendered)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0025_vacuum_after_the_cjk_search_column")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop, elidable=True)]
