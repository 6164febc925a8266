"""Django admin kernel shared by every app's admin.

- Access goes by role: the Admin role (superusers included) may view, add and change every model
  without per-model permission rows; only superusers delete for good; other staff see nothing.
- Delete means one thing for soft-deletable models: the change form's Delete and "Delete selected"
  move rows to the trash (through the app's service, so cascades happen), "Restore selected" (or the
  button on a trashed row's page) brings them back, and only superusers delete for good, with the
  warned "Delete permanently" action. Lists show alive rows unless the "deleted" filter asks for the
  trash, where a "deleted at" column appears.
- Edits write only the changed columns and bump `version` so API clients holding an old ETag see
  the change; constraints that involve read-only fields are checked before the database is asked.
- Big tables get a paginator that does not `COUNT(*)` the whole table for an unfiltered list.
"""

from django.contrib import admin
from django.urls import reverse_lazy

from core.admin.access import (
    AdminRoleAccessMixin,
    InlineAdminRoleAccessMixin,
    NoAddAdminMixin,
    ViewOnlyAdminMixin,
    request_has_admin_role,
)
from core.admin.bases import BaseModelAdmin, SoftDeleteAdmin
from core.admin.changelists import (
    ConditionFilter,
    DeletedFilter,
    EstimatedCountPaginator,
    LargeTableAdminMixin,
    table_row_estimate,
)
from core.admin.display import change_link, changelist_link, error_text, link_row, preview
from core.admin.forms import AdminModelForm, WholeRowConstraintsMixin, adopt_row, changed_columns

admin.site.site_header = "OllamaNet administration"
admin.site.site_title = "OllamaNet admin"
admin.site.index_title = "Platform administration"
# "View site": the platform is its API. A lazy URL works where the stubs ask for a str.
admin.site.site_url = reverse_lazy("swagger-ui")  # type: ignore[assignment]

__all__ = [
    "AdminModelForm",
    "AdminRoleAccessMixin",
    "BaseModelAdmin",
    "ConditionFilter",
    "DeletedFilter",
    "EstimatedCountPaginator",
    "InlineAdminRoleAccessMixin",
    "LargeTableAdminMixin",
    "NoAddAdminMixin",
    "SoftDeleteAdmin",
    "ViewOnlyAdminMixin",
    "WholeRowConstraintsMixin",
    "adopt_row",
    "change_link",
    "changed_columns",
    "changelist_link",
    "error_text",
    "link_row",
    "preview",
    "request_has_admin_role",
    "table_row_estimate",
]
