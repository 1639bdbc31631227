"""Articles stored before the addresses a text's links carry were held to a budget and before an image
inside a link showed as the link's words are rendered again (tickets 0026 does the same for messages).

Only a body with an image ("![") or a reference definition ("]:") can render differently, and only rows
whose page changes are written. It renders with helpdesk.markdown as it stands when the migration runs."""

from django.db import migrations
from django.db.models import Q

MAY_CHANGE = Q(body__contains="![") | Q(body__contains="]:")


def render_again(apps, schema_editor):
    from knowledge.services import article_html

    Article = apps.get_model("knowledge", "Article")
    rows = Article.objects.filter(MAY_CHANGE).values_list("pk", "body", "body_html")
    for pk, body, body_html in rows.iterator(chunk_size=500):
        if (rendered := article_html(body)) != body_html:
            Article.objects.filter(pk=pk).update(body_html=rendered)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0016_article_title_order")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop, elidable=True)]
