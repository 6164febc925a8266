"""Template tags of the admin's soft-delete change form."""

from django import template
from django.contrib.admin.templatetags.admin_modify import submit_row

register = template.Library()


@register.inclusion_tag("admin/trash_submit_line.html", takes_context=True)
def trash_submit_row(context):
    """Django's `submit_row`, whose Delete reads "Move to trash"."""
    return submit_row(context).flatten()
