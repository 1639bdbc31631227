"""Article tags stored before they were spelled as tickets' are (helpdesk.forms.as_tag, through
knowledge.services.clean_tags): written again, so the same tag is one badge and one search term."""

from django.db import migrations

from knowledge.services import clean_tags


def respell(apps, schema_editor):
    Article = apps.get_model("knowledge", "Article")
    for pk, tags in Article.objects.exclude(tags="").values_list("pk", "tags").iterator():
        if (spelled := clean_tags(tags)) != tags:
            Article.objects.filter(pk=pk).update(tags=spelled)  # not an edit: updated_at stays


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0010_article_heading_ids_and_list_starts")]

    operations = [migrations.RunPython(respell, migrations.RunPython.noop)]
