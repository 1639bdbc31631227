"""Names that become one when letter case stops counting: what a migration that adds a unique constraint
on lower(name) renames first, so that the constraint can be made on rows written before it."""

from collections import defaultdict
from collections.abc import Callable

from django.db import connections
from django.db.models import Model
from django.db.models.functions import Lower


def number_case_clashes(
    model: type[Model],
    field: str,
    *,
    within: tuple[str, ...] = (),
    suffix: Callable[[int], str] = " ({})".format,
    using: str = "default",
) -> int:
    """Give every row whose `field` equals an earlier row's but for letter case (among the rows with the
    same `within` values) the first name with `suffix(2)`, `suffix(3)`... that no row holds; the earliest
    row keeps its name. Case is compared as the constraint will: by PostgreSQL's lower() ("İzmir" is
    "izmir" there, not in Python). Returns how many rows were renamed."""
    limit = model._meta.get_field(field).max_length
    rows = list(
        model._default_manager.using(using)
        .annotate(case_clash_key=Lower(field))
        .order_by("pk")
        .values_list("pk", field, "case_clash_key", *within)
    )
    taken: dict[tuple, set[str]] = defaultdict(set)
    for _, _, key, *scope in rows:
        taken[tuple(scope)].add(key)
    kept: dict[tuple, set[str]] = defaultdict(set)
    renamed = 0
    for pk, value, key, *scope in rows:
        scope = tuple(scope)
        if key not in kept[scope]:
            kept[scope].add(key)
            continue
        number = 1
        while True:
            number += 1
            end = suffix(number)
            name = value[: limit - len(end)] + end
            if (name_key := _lowered(name, using)) not in taken[scope]:
                break
        taken[scope].add(name_key)
        kept[scope].add(name_key)
        model._default_manager.using(using).filter(pk=pk).update(**{field: name})
        renamed += 1
    return renamed


def _lowered(text: str, using: str) -> str:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT lower(%s)", [text])
        return cursor.fetchone()[0]
