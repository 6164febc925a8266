"""The audit trail of access control: role model access (who may use which model) is recorded like the
rest of the catalogue ("full"), and the users table's triggers learn one more column the security
events describe: `password_change_required` (set by `account_created_by_admin`, cleared by
`temporary_password_replaced` or a password reset), so that change is not recorded twice."""

from importlib import import_module

from django.db import migrations

# The trigger SQL of the migration that put the audit triggers in place (its CREATE/DROP TRIGGER).
row_triggers = import_module("admin_app.migrations.0003_audit_row_triggers")
create, drop = row_triggers._create_triggers, row_triggers._drop_triggers

USER_IGNORED_BEFORE = [
    "password",
    "last_login",
    "failed_login_count",
    "failed_login_window_started_at",
    "locked_until",
    "is_staff",
]
USER_IGNORED = [*USER_IGNORED_BEFORE, "password_change_required"]


class Migration(migrations.Migration):
    dependencies = [
        ("admin_app", "0005_pg_stat_statements"),
        ("auth_app", "0005_user_approval_and_temporary_password"),
        ("models_app", "0006_role_model_access"),
    ]

    operations = [
        migrations.RunSQL(
            drop("auth_user") + create("auth_user", "auth_app.user", "full", USER_IGNORED),
            drop("auth_user") + create("auth_user", "auth_app.user", "full", USER_IGNORED_BEFORE),
        ),
        migrations.RunSQL(
            create("models_app_rolemodelaccess", "models_app.rolemodelaccess", "full", []),
            drop("models_app_rolemodelaccess"),
        ),
    ]
