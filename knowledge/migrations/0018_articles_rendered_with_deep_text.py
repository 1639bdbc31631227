"""Articles stored before text nested past twenty quotes or lists showed (it vanished from the page while
the body kept it) are rendered again (tickets 0029 does the same for messages; knowledge 0010 rendered the
ones with headings or numbered lists).

Only a body with a line opening with twenty quote or list markers and spaces can render differently, and
only rows whose page changes are written. It renders with helpdesk.markdown as it stands when the
migration runs."""

from django.db import migrations

MAY_CHANGE = r"(^|\n)([ \t>*+-]|[0-9]{1,9}[.)]){20,}"


def render_again(apps, schema_editor):
    from knowledge.services import article_html

    Article = apps.get_model("knowledge", "Article")
    rows = Article.objects.filter(body__regex=MAY_CHANGE).values_list("pk", "body", "body_html")
    for pk, body, body_html in rows.iterator(chunk_size=500):
        if (rendered := article_html(body)) != body_html:
            Article.objects.filter(pk=pk).update(body_html=rendered)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0017_articles_rendered_with_the_link_budget")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop, elidable=True)]
