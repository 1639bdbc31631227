"""Views saved from "Recently solved" before it was a period kept the week they were saved as fixed
from-dates (status=resolved&status=closed&updated_after=D&solved_after=D, exactly as its link read):
they become the period the view now links, so that they stay recent. Any other query is left alone."""

import re

from django.db import migrations

# The built-in link as it was, with its one date twice: no filter form writes it so (the form also sends
# its empty fields), so a view with this query was saved from that link.
OLD_RECENTLY_SOLVED = re.compile(
    r"status=resolved&status=closed&updated_after=(\d{4}-\d{2}-\d{2})&solved_after=\1"
)
RECENTLY_SOLVED = "status=resolved&status=closed&solved_within=7"


def to_period(apps, schema_editor) -> None:
    SavedView = apps.get_model("tickets", "SavedView")
    saved = SavedView.objects.filter(query__startswith="status=resolved&status=closed&updated_after=")
    for view in saved.only("pk", "query"):
        if OLD_RECENTLY_SOLVED.fullmatch(view.query):
            SavedView.objects.filter(pk=view.pk).update(query=RECENTLY_SOLVED)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0022_alphabetical_order")]

    operations = [migrations.RunPython(to_period, migrations.RunPython.noop)]
