"""The ModelAdmin bases: `BaseModelAdmin` for every model, `SoftDeleteAdmin` for soft-deletable ones."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters, admin_urlname
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models.options import Options
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_protect

from core import services as core_services
from core.admin.access import AdminRoleAccessMixin
from core.admin.changelists import DeletedFilter, shows_deleted_rows
from core.admin.display import error_text
from core.admin.forms import AdminModelForm, adopt_row, changed_columns
from core.exceptions import ApplicationError
from core.models import VersionedModel

RECORD_FIELDS = ("id", "created_at", "updated_at", "version", "deleted_at")


class BaseModelAdmin(AdminRoleAccessMixin, admin.ModelAdmin):
    """Base of every OllamaNet ModelAdmin: role access, the row's bookkeeping fields shown read-only,
    edits through `update_fields` / `versioned_update`, foreign keys that accept soft-deleted
    targets already on the row (Django's form field would refuse them)."""

    form: type[forms.ModelForm] = AdminModelForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def record_fields(self) -> tuple[str, ...]:
        names = {f.name for f in self.model._meta.concrete_fields}
        return tuple(name for name in RECORD_FIELDS if name in names)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        return readonly + tuple(name for name in self.record_fields() if name not in readonly)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or not (self.fieldsets or self.fields):
            return fieldsets  # generated fieldsets already end with the read-only fields
        shown = set(flatten_fieldsets(fieldsets))
        record = tuple(name for name in self.record_fields() if name not in shown)
        if record:
            fieldsets.append(("Record", {"classes": ("collapse",), "fields": record}))
        return fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        remote = db_field.remote_field.model
        if "queryset" not in kwargs and hasattr(remote, "all_objects"):
            kwargs["queryset"] = remote.all_objects.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete" and hasattr(self.model, "all_objects"):
            queryset = queryset.filter(deleted_at__isnull=True)  # pick only alive rows for new links
        return queryset, may_have_duplicates

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        """A service refusing the write (a race the form could not see) rolls the whole save back and
        comes back as a message on the page, not as a server error."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ApplicationError, ValidationError) as exc:
            self.message_user(request, f"Nothing was saved: {error_text(exc)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if not change:
            created = self.create_object(request, obj, form)
            if created is not obj:
                adopt_row(obj, created)
            return
        changes = {name: getattr(obj, name) for name in changed_columns(obj, form)}
        if changes:
            self.update_object(request, obj, changes)

    def create_object(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> models.Model:
        """Insert the new row; admins of models with a create service call it and return its row."""
        obj.save(force_insert=True)
        return obj

    def update_object(self, request: HttpRequest, obj: Any, changes: dict[str, Any]) -> None:
        """Write the changed columns; admins of models with an update service call it instead
        (with `stored_row(obj)`, as the service compares against what is stored)."""
        if isinstance(obj, VersionedModel):
            core_services.versioned_update(obj, fields=changes)
            return
        columns = list(changes)
        if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
            columns.append("updated_at")
        obj.save(update_fields=columns)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Rows that have no delete of their own here (an exchange, a model's tag link) still go with
        the row a superuser deletes; they do not make the delete "need" a permission nobody has."""
        deleted, model_count, _, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def stored_row(self, obj: Any) -> Any:
        """The row as the database has it (the admin's `obj` already carries the form's values)."""
        return type(obj)._base_manager.get(pk=obj.pk)


class SoftDeleteAdmin(BaseModelAdmin):
    """Base for soft-deletable models.

    Subclasses whose deletion cascades override `soft_delete_object` / `restore_object` to call
    their app's service. Delete means one thing: the change form's Delete and "Delete selected" move
    rows to the trash; only superusers delete for good, with the warned "Delete permanently" action.
    Lists show alive rows unless the "deleted" filter asks for the trash. A deleted row opens
    read-only, says it is in the trash and offers to restore it.
    """

    actions: tuple[str, ...] = ("delete_selected", "restore_selected", "hard_delete_selected")

    def soft_delete_object(self, request: HttpRequest, obj: Any) -> None:
        core_services.soft_delete(obj)

    def restore_object(self, request: HttpRequest, obj: Any) -> None:
        core_services.restore(obj)

    def get_queryset(self, request: HttpRequest):
        queryset = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_filter(self, request: HttpRequest):
        return (DeletedFilter, *super().get_list_filter(request))

    def get_list_display(self, request: HttpRequest):
        list_display = tuple(super().get_list_display(request))
        return (*list_display, "deleted_at") if shows_deleted_rows(request) else list_display

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.deleted_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_trash_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """May move `obj` (an alive row) to the trash: whoever may edit it."""
        return (obj is None or obj.deleted_at is None) and self.has_change_permission(request, obj)

    # --- the change form: "Delete" moves to the trash; a row in the trash says so ----------------------

    change_form_template = "admin/soft_delete_change_form.html"

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        context["may_restore"] = (
            obj is not None and obj.deleted_at is not None and self.has_change_permission(request)
        )
        response = super().render_change_form(request, context, add, change, form_url, obj)
        # The form's Delete button is the trash's; deleting for good is the superusers' bulk action.
        # (The stubs say HttpResponse; ModelAdmin.render_change_form returns a TemplateResponse.)
        response.context_data["has_delete_permission"] = (  # type: ignore[attr-defined]
            obj is not None and self.has_trash_permission(request, obj)
        )
        return response

    @method_decorator(csrf_protect)
    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        """Move one row to the trash, after a confirmation page (not Django's permanent delete)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]  # private, not in the stubs
                request, self.opts, object_id
            )
        if not self.has_trash_permission(request, obj):
            raise PermissionDenied
        if request.method == "POST":
            try:
                self.soft_delete_object(request, obj)
            except (ApplicationError, ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"Nothing was moved: {error_text(exc)}", messages.ERROR)
                # The stubs type admin_urlname's second argument (a template filter's) as SafeString.
                change = admin_urlname(self.opts, "change")  # type: ignore[arg-type]
                return HttpResponseRedirect(reverse(change, args=[obj.pk]))
            self.log_change(request, obj, "Moved to the trash.")
            self.message_user(
                request,
                format_html("The {} “{}” was moved to the trash.", self.opts.verbose_name, obj),
                messages.SUCCESS,
            )
            changelist = reverse(admin_urlname(self.opts, "changelist"))  # type: ignore[arg-type]
            preserved: dict[str, Options[Any] | str] = {
                "preserved_filters": self.get_preserved_filters(request),
                "opts": self.opts,
            }
            return HttpResponseRedirect(add_preserved_filters(preserved, changelist))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move this {self.opts.verbose_name} to the trash?",
            "subtitle": None,
            "object_name": str(self.opts.verbose_name),
            "object": obj,
            "cascade": self.trash_cascade,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/soft_delete_confirmation.html", context)

    trash_cascade = ""
    """What goes to the trash with a row, for the confirmation page (e.g. "its exchanges and notes")."""

    def _apply(self, request: HttpRequest, objects, func, verb: str, skip_code: str | None = None) -> None:
        """Run `func(request, obj)` on each row and say how many it did and why it refused others."""
        done, refused = 0, []
        for obj in objects:
            try:
                func(request, obj)
                done += 1
            except (ApplicationError, ValidationError, PermissionDenied) as exc:
                # A row a cascade of this same action already handled is not an error.
                if skip_code is None or getattr(exc, "code", None) != skip_code:
                    refused.append(f"{obj}: {error_text(exc)}")
        if done:
            noun = self.model._meta.verbose_name if done == 1 else self.model._meta.verbose_name_plural
            self.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(
        description="Delete selected %(verbose_name_plural)s (move to trash)", permissions=["change"]
    )
    def delete_selected(self, request: HttpRequest, queryset) -> None:
        alive = queryset.filter(deleted_at__isnull=True)
        self._apply(request, alive, self.soft_delete_object, "moved to the trash", "already_deleted")

    @admin.action(description="Restore selected %(verbose_name_plural)s", permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset) -> None:
        deleted = queryset.filter(deleted_at__isnull=False)
        self._apply(request, deleted, self.restore_object, "restored", "not_deleted")

    @admin.action(description="Delete selected %(verbose_name_plural)s permanently", permissions=["delete"])
    def hard_delete_selected(self, request: HttpRequest, queryset):
        """Django's "delete selected" (confirmation page included) under its own action name."""
        response = django_delete_selected(self, request, queryset)
        if isinstance(response, TemplateResponse):
            response.template_name = "admin/hard_delete_selected_confirmation.html"
            assert response.context_data is not None  # the confirmation page's context
            response.context_data["action_name"] = "hard_delete_selected"
        return response
