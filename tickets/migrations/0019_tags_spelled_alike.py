"""Tags stored before they were spelled one way however typed (helpdesk.forms.as_tag): invisible
characters dropped, full-width letters plain, lower case. A tag that now reads as another is merged into
it (its tickets keep the tag they showed); one that shows nothing is removed from its tickets; one whose
new spelling the desk would refuse is left as it is."""

import unicodedata

from django.db import migrations

from helpdesk.forms import as_tag, shows_text


def tag_allowed(name: str) -> bool:
    # The rule tickets.services.clean_tag_names holds typed tags to, as it stood when this was written.
    return 0 < len(name) <= 50 and all(
        ch.isalnum() or ch in " -_" or unicodedata.category(ch).startswith("M") for ch in name
    )


def respell(apps, schema_editor):
    Tag = apps.get_model("tickets", "Tag")
    Through = Tag.tickets.through
    for tag in Tag.objects.all().order_by("pk"):
        if not shows_text(tag.name):
            tag.delete()
            continue
        spelled = as_tag(tag.name)
        if spelled == tag.name or not tag_allowed(spelled):
            continue  # as it is, rather than a spelling the desk would refuse when the tags are saved again
        kept = Tag.objects.filter(name=spelled).first()
        if kept is None:
            tag.name = spelled
            tag.save(update_fields=["name"])
            continue
        tagged = set(Through.objects.filter(tag_id=kept.pk).values_list("ticket_id", flat=True))
        Through.objects.bulk_create(
            Through(ticket_id=ticket_id, tag_id=kept.pk)
            for ticket_id in Through.objects.filter(tag_id=tag.pk).values_list("ticket_id", flat=True)
            if ticket_id not in tagged
        )
        tag.delete()


class Migration(migrations.Migration):
    dependencies = [("tickets", "0018_form_default_team_active")]

    operations = [migrations.RunPython(respell, migrations.RunPython.noop)]
