"""Admin for categories and articles; article changes go through knowledge/services.py."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audit.admin import AuditedModelAdmin
from helpdesk.admin import (
    KeepInUseMixin,
    KeptRowResponseMixin,
    ReadOnlyInline,
    ServiceSaveAdminMixin,
    StableSlugMixin,
)
from helpdesk.display import shown_count
from knowledge import services
from knowledge.forms import CategoryChoiceField, LoadedAtForm, body_as_stored
from knowledge.models import Article, ArticleRevision, Category


@admin.register(Category)
class CategoryAdmin(StableSlugMixin, KeepInUseMixin, AuditedModelAdmin):
    list_display = ("name", "slug", "parent", "position")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    # Its articles would lose their category with no revision or audit event on them.
    held_by = "articles"
    held_message = "Category “{obj}” holds {count} article{s}: move them to another category first."

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["form_class"] = CategoryChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ArticleRevisionInline(ReadOnlyInline):
    model = ArticleRevision
    fields = ("created_at", "created_by", "title")
    readonly_fields = fields
    shown = 50
    verbose_name_plural = "revisions (the latest 50: the editor pages through them all)"


class ArticleAdminForm(forms.ModelForm, LoadedAtForm):
    """The admin's article form, which refuses a save from a page an author's edit has made stale: the
    admin compares the posted values with the article as it is now, so an old page would undo it."""

    class Meta:
        model = Article
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_at"].initial = self.instance.updated_at.isoformat()

    def clean_body(self) -> str:
        return body_as_stored(self.cleaned_data["body"], self.instance.body if self.instance.pk else None)

    def clean(self) -> dict:
        # Refused here, the page comes back with the error and everything as typed; article_update
        # checks again under the row lock for a change made in between.
        data = super().clean()
        loaded_at = data.get("loaded_at")
        if self.instance.pk and "loaded_at" not in self.errors:
            # A change form always sends when it was loaded: one without it would skip the check.
            current = Article.objects.filter(pk=self.instance.pk).values_list("updated_at", flat=True).first()
            if loaded_at is None or current != loaded_at:
                raise ValidationError(services.STALE_ARTICLE)
        return data


@admin.register(Article)
class ArticleAdmin(KeptRowResponseMixin, ServiceSaveAdminMixin, AuditedModelAdmin):
    form = ArticleAdminForm
    list_display = (
        "title",
        "category",
        "status",
        "visibility",
        "helpful_count",
        "not_helpful_count",
        "updated_at",
    )
    list_filter = ("status", "visibility", "category")
    search_fields = ("title", "slug", "tags")
    list_select_related = ("category",)
    list_defer = ("body", "body_html", "search_vector", "title_vector")  # long, and the list shows none
    ordering = ("-updated_at", "-pk")  # along the article_recent index
    fields = ("title", "slug", "category", "tags", "excerpt", "body", "visibility", "status", "published_at",
              "views", "helpful_count", "not_helpful_count", "deflections", "use_count", "verified_by",
              "verified_at", "loaded_at")  # fmt: skip
    readonly_fields = ("status", "published_at", "views", "helpful_count", "not_helpful_count", "deflections",
                       "use_count", "verified_by", "verified_at")  # fmt: skip
    inlines = (ArticleRevisionInline,)
    actions = ("publish", "archive", "verify")

    def save_model(self, request, obj: Article, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in ("title", "body", "excerpt", "category", "tags",
                                                             "visibility", "slug")}  # fmt: skip
        try:
            if change:
                original = Article.objects.get(pk=obj.pk)
                # Changed as stored, not as posted: a body sent back with CRLF line breaks is unchanged.
                changed = {
                    name: value
                    for name, value in data.items()
                    if name in form.changed_data and value != getattr(original, name)
                }
                if "title" in changed:  # the address as the page shows it: a draft's does not follow here
                    changed.setdefault("slug", data["slug"])
                if changed:
                    loaded_at = form.cleaned_data.get("loaded_at")
                    services.article_update(original, actor=request.user, loaded_at=loaded_at, **changed)
            else:
                created = services.article_create(actor=request.user, **data)
                obj.pk = created.pk
        except (ValidationError, PermissionDenied) as error:
            self.refuse(request, error)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "category":
            kwargs["form_class"] = CategoryChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_deleted_objects(self, objs, request):
        """An article not to be deleted (published: archive it first) is listed as kept, with the reason,
        on its delete page and by "Delete selected": Django then deletes none of them and says why. Asked
        again when the deletion is confirmed, so one published since the page was shown is kept too."""
        refused = [
            f"“{article}”: {reason}"
            for article in objs
            if (reason := services.article_delete_refusal(article, request.user))
        ]
        if refused:
            return [], {}, set(), refused
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj) -> None:
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        """Through services.article_delete, which records the event (title, address, status) and decides
        on the locked row: one it refuses even so (published in the moment since the confirmation) is
        named and kept, the others deleted."""
        with transaction.atomic():
            deleted = []
            for article in queryset:
                try:
                    if services.article_delete(article, actor=request.user):
                        deleted.append(article)
                except (PermissionDenied, ValidationError) as error:
                    reason = " ".join(getattr(error, "messages", [str(error)]))
                    messages.error(request, f"{article}: {reason} It was kept.")
                    request.kept_in_use = True  # no "deleted successfully" beside it
            if deleted:
                admin.ModelAdmin.log_deletions(self, request, deleted)  # the History entry

    def get_queryset(self, request):
        # One read path: an agent with access to the admin lists what /kb/manage/ shows them.
        return Article.objects.visible_to(request.user).select_related("category")

    def _each(self, request, queryset, service, verb: str) -> None:
        """Apply `service` to each article on its own: one the service refuses (already published, not
        yet published) is named in a message and the others still go ahead."""
        done = 0
        for article in queryset:
            try:
                service(article, actor=request.user)
                done += 1
            except PermissionDenied as error:
                messages.error(request, f"{article}: {error}")
            except ValidationError as error:
                messages.error(request, f"{article}: {' '.join(error.messages)}")
        self.message_user(request, f"{verb} {shown_count(done, 'article')}.")

    @admin.action(description="Publish selected articles")
    def publish(self, request, queryset):
        self._each(request, queryset, services.article_publish, "Published")

    @admin.action(description="Archive selected articles")
    def archive(self, request, queryset):
        self._each(request, queryset, services.article_archive, "Archived")

    @admin.action(description="Mark selected articles as verified")
    def verify(self, request, queryset):
        self._each(request, queryset, services.article_verify, "Verified")
