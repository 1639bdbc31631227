"""Articles stored before their headings had ids (in-page links "#step-two" reach them) and before an
ordered list kept its first number (steps after a code block went on from 1 again) are rendered again.

It renders with helpdesk.markdown as it stands when the migration runs: body_html is that renderer's
output, and only rows whose page it changes are written."""

from django.db import migrations

# A heading ("#", or a line underlined with "=" or "-") or an ordered list at a line's start: the only
# bodies whose page the change touches.
MAY_CHANGE = r"(^|\n) {0,3}(#|\d{1,9}[.)]|=+[ \t]*(\r?\n|$)|-+[ \t]*(\r?\n|$))"


def render_again(apps, schema_editor):
    from knowledge.services import article_html

    Article = apps.get_model("knowledge", "Article")
    rows = Article.objects.filter(body__regex=MAY_CHANGE).values_list("pk", "body", "body_html")
    for pk, body, body_html in rows.iterator(chunk_size=500):
        if (rendered := article_html(body)) != body_html:
            Article.objects.filter(pk=pk).update(body_html=rendered)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0009_search_folds_accents")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop)]
