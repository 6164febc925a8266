"""Django admin of the catalogue: models with their tags inline, tags, the model-tag pairs, and which
models a role may use."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AllValuesFieldListFilter, DateFieldListFilter
from django.db.models import Count, Q

from core.admin import (
    BaseModelAdmin,
    ConditionFilter,
    InlineAdminRoleAccessMixin,
    LargeTableAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    preview,
    request_has_admin_role,
)
from models_app import services
from models_app.cache import catalogue_cache
from models_app.models import AIModel, ModelTag, RoleModelAccess, Tag
from models_app.selectors import alive_tags_prefetch


class CatalogueHardDeleteMixin:
    """A superuser's permanent delete also keeps Explore's cache and the models' tag names right."""

    def _affected_model_ids(self, queryset) -> list:
        return []

    def delete_queryset(self, request, queryset) -> None:
        model_ids = self._affected_model_ids(queryset)
        super().delete_queryset(request, queryset)  # type: ignore[misc]  # a ModelAdmin mixin
        if model_ids:
            services.refresh_tag_names(model_ids)
        catalogue_cache.invalidate_on_commit()


class TagUsageFilter(ConditionFilter):
    title = "usage"
    parameter_name = "used"

    def conditions(self):
        return {
            "yes": ("On at least one model", Q(model_count__gt=0)),
            "no": ("On no model", Q(model_count=0)),
        }


@admin.register(Tag)
class TagAdmin(CatalogueHardDeleteMixin, SoftDeleteAdmin):
    """Tags are written through the catalogue services, which refresh Explore and search."""

    list_display = ("name", "slug", "description_preview", "model_count", "updated_at")
    list_filter = (TagUsageFilter, ("updated_at", DateFieldListFilter))
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("name",)
    fieldsets = ((None, {"fields": ("name", "slug", "description")}),)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(model_count=Count("model_tags", filter=Q(model_tags__model__deleted_at__isnull=True)))
        )

    def create_object(self, request, obj: Tag, form) -> Tag:
        data = form.cleaned_data
        return services.tag_create(name=data["name"], slug=data["slug"], description=data["description"])

    def update_object(self, request, obj: Tag, changes: dict) -> None:
        services.tag_update(tag=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Tag) -> None:
        services.tag_soft_delete(tag=obj)

    def restore_object(self, request, obj: Tag) -> None:
        services.tag_restore(tag=obj)

    def _affected_model_ids(self, queryset) -> list:
        return list(ModelTag.objects.filter(tag__in=queryset).values_list("model_id", flat=True))

    @admin.display(description="description")
    def description_preview(self, obj: Tag) -> str:
        return preview(obj.description)

    @admin.display(description="models", ordering="model_count")
    def model_count(self, obj: Tag) -> int:
        return obj.model_count  # type: ignore[attr-defined]  # get_queryset annotates it


class ModelTagInline(InlineAdminRoleAccessMixin, admin.TabularInline):
    """The model's alive tags; pairs with a tag in the trash stay out of the form."""

    model = ModelTag
    fields = ("tag", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("tag",)
    extra = 0
    verbose_name = "tag"
    verbose_name_plural = "tags"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).filter(tag__deleted_at__isnull=True)
        return queryset.select_related("model", "tag")


@admin.register(AIModel)
class AIModelAdmin(CatalogueHardDeleteMixin, SoftDeleteAdmin):
    """Models and their tags are written through the catalogue services (Explore's cache, search)."""

    list_display = (
        "name",
        "family",
        "parameter_size",
        "model_type",
        "is_active",
        "install_status",
        "tag_list",
        "updated_at",
    )
    list_filter = (
        "is_active",
        "install_status",
        "model_type",
        ("family", AllValuesFieldListFilter),
        "tags",
    )
    search_fields = ("name", "family", "parent_model", "description")
    ordering = ("name",)
    autocomplete_fields = ("owner",)
    inlines = (ModelTagInline,)
    readonly_fields = ("install_status", "install_progress", "install_error")
    actions = (*SoftDeleteAdmin.actions, "publish_selected", "unpublish_selected")
    fieldsets = (
        (None, {"fields": ("name", "description", "model_type", "is_active", "owner")}),
        (
            "Ollama details",
            {
                "fields": (
                    ("family", "families"),
                    "capabilities",
                    ("parameter_size", "parameter_count"),
                    ("quantization_level", "quantization_version"),
                    ("format", "architecture", "file_type"),
                    "parent_model",
                    ("model_version", "digest"),
                    ("size", "size_label"),
                    ("released_at", "languages"),
                )
            },
        ),
        ("Links", {"fields": ("reference_link", "image_url")}),
        ("Installation", {"fields": ("install_status", "install_progress", "install_error")}),
        ("Model file", {"classes": ("collapse",), "fields": ("license", "template", "modelfile")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(alive_tags_prefetch())

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if obj is None else (*readonly, "owner")  # who added it stays on record

    def create_object(self, request, obj: AIModel, form) -> AIModel:
        data = form.cleaned_data
        fields = {name: data[name] for name in services.AIMODEL_EDITABLE_FIELDS - {"name"} if name in data}
        return services.aimodel_create(
            name=data["name"], owner=data.get("owner"), is_active=data.get("is_active", False), **fields
        )

    def update_object(self, request, obj: AIModel, changes: dict) -> None:
        published = changes.pop("is_active", None)
        model = self.stored_row(obj)
        if changes:
            model = services.aimodel_update(model=model, **changes)
        if published is not None:
            (services.aimodel_publish if published else services.aimodel_unpublish)(model=model)

    def soft_delete_object(self, request, obj: AIModel) -> None:
        services.aimodel_soft_delete(model=obj)

    def restore_object(self, request, obj: AIModel) -> None:
        services.aimodel_restore(model=obj)

    def save_formset(self, request, form, formset, change) -> None:
        """The tag rows of the inline become one remove and one add through the tag services."""
        if formset.model is not ModelTag:
            super().save_formset(request, form, formset, change)
            return
        deleted = [f for f in formset.forms if f in formset.deleted_forms and f.instance.pk]
        retagged = [f for f in formset.initial_forms if f not in deleted and f.has_changed()]
        new = [f for f in formset.extra_forms if f.has_changed() and f not in formset.deleted_forms]
        removed_ids = [f.initial["tag"] for f in (*deleted, *retagged)]
        added_ids = [f.cleaned_data["tag"].pk for f in (*retagged, *new)]
        if removed_ids:
            services.aimodel_tags_remove(model=form.instance, tag_ids=removed_ids)
        if added_ids:
            services.aimodel_tags_add(model=form.instance, tag_ids=added_ids)
        # What the change message of the history reads.
        formset.new_objects = [f.instance for f in new]
        formset.changed_objects = [(f.instance, f.changed_data) for f in retagged]
        formset.deleted_objects = [f.instance for f in deleted]

    @admin.display(description="tags")
    def tag_list(self, obj: AIModel) -> str:
        return preview(", ".join(tag.name for tag in obj.tags.all()), 40)

    @admin.action(description="Publish selected models (show them in Explore)", permissions=["change"])
    def publish_selected(self, request, queryset) -> None:
        def publish(request, model: AIModel) -> None:
            services.aimodel_publish(model=model)

        self._apply(request, queryset.filter(deleted_at__isnull=True, is_active=False), publish, "published")

    @admin.action(description="Unpublish selected models (hide them from Explore)", permissions=["change"])
    def unpublish_selected(self, request, queryset) -> None:
        def unpublish(request, model: AIModel) -> None:
            services.aimodel_unpublish(model=model)

        self._apply(
            request, queryset.filter(deleted_at__isnull=True, is_active=True), unpublish, "unpublished"
        )


@admin.register(ModelTag)
class ModelTagAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Which model carries which tag, read-only: tags are edited on the model's page."""

    list_display = ("pair", "created_at")
    list_select_related = ("model", "tag")
    list_filter = ("tag",)
    search_fields = ("model__name", "tag__name")
    ordering = ("-id",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="model · tag", ordering="model__name")
    def pair(self, obj: ModelTag) -> str:
        return str(obj)


@admin.register(RoleModelAccess)
class RoleModelAccessAdmin(LargeTableAdminMixin, BaseModelAdmin):
    """Which models a role may use: one row per model or tag (a role without rows may use every published
    model). Entries are added and removed, not edited; each change is in the audit trail."""

    list_display = ("role", "model", "tag", "created_at")
    list_select_related = ("role", "model", "tag")
    list_filter = ("role",)
    search_fields = ("role__name", "model__name", "tag__name")
    autocomplete_fields = ("model", "tag")
    fields = ("role", "model", "tag")
    ordering = ("role__name", "model__name", "tag__name")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request_has_admin_role(request)

    def save_model(self, request, obj: RoleModelAccess, form, change) -> None:
        saved = services.role_model_access_add(role_id=obj.role_id, model=obj.model, tag=obj.tag)
        obj.pk = saved.pk

    def delete_model(self, request, obj: RoleModelAccess) -> None:
        services.role_model_access_remove(entry_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for entry_id in queryset.values_list("pk", flat=True):
            services.role_model_access_remove(entry_id=entry_id)
