"""Driving Django admin pages in tests: their addresses, and a change form posted back as a browser
would, with some fields changed."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def delete_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def fields_as_posted(form) -> dict:
    """A form's current values as its page would post them back."""
    data = {}
    for name in form.fields:
        bound = form[name]
        value, widget = bound.value(), bound.field.widget
        if value is None or value is False:
            continue
        if hasattr(widget, "widgets_names"):  # split date and time
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                data[bound.html_name + suffix] = str(part)
        else:
            data[bound.html_name] = [str(item) for item in value] if isinstance(value, list) else str(value)
        if bound.field.show_hidden_initial:  # fields with a callable default post their initial value too
            for suffix in getattr(widget, "widgets_names", [""]):
                data[bound.html_initial_name + suffix] = data[bound.html_name + suffix]
    return data


def form_data(response, **changes) -> dict:
    """What the admin change page would post back unchanged, with `changes` applied."""
    data = fields_as_posted(response.context["adminform"].form)
    if response.context.get("loaded_digest"):  # the fingerprint of the row the page was built from
        data[response.context["loaded_field"]] = response.context["loaded_digest"]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= fields_as_posted(formset.management_form)
        data[formset.management_form.add_prefix("TOTAL_FORMS")] = str(formset.initial_form_count())
        for inline_form in formset.initial_forms:
            data |= fields_as_posted(inline_form)
    return data | changes


def post_change(client, obj, **changes):
    """The change page of `obj` posted back with `changes`: the admin's answer."""
    page = client.get(change_url(obj))
    assert page.status_code == 200
    return client.post(change_url(obj), form_data(page, **changes))


def run_action(client, model, action: str, pks) -> object:
    """Run the changelist action `action` on the objects with `pks`, as its page would; the page after."""
    data = {"action": action, "index": "0", ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]}
    return client.post(changelist_url(model), data, follow=True)


def messages_of(response) -> list[str]:
    """The messages a (followed) admin page shows."""
    return [str(message) for message in response.context["messages"]] if response.context else []
