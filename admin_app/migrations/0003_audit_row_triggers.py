"""The audit trail records row changes itself: PostgreSQL triggers on the audited tables write one
AuditEvent per changed row, so bulk `QuerySet.update()`/`delete()` and raw SQL are seen too.

Who, from where and under which request id comes from session settings (`ollamanet.audit_*`) the
application sets right before each write on an audited table (core.audit); a write
without them (a shell, a migration, psql) is recorded as the system's.

Two kinds of tables:
- "full": staff-managed records (users, roles, catalogue, system messages). Every insert, update and
  delete, with the before/after of the changed columns only.
- "trash": users' own content (folders, conversations, notes, feedback, attachments). Only trips to
  and from the trash (`deleted_at`) and hard deletes, never the content itself; everything when the
  change is made from the staff side (`ollamanet.audit_all` = on).
Bookkeeping (`updated_at`, `version`, generated columns) and secrets are never recorded; the columns a
security event describes (password, sign-in counters, lock, staff flag that follows the Admin role)
are recorded by that event instead, so one change never shows up twice.
"""

from django.db import migrations

COMMON_IGNORED = ["created_at", "updated_at", "version"]

TABLES = [
    # (table, target type, mode, columns never recorded besides COMMON_IGNORED)
    (
        "auth_user",
        "auth_app.user",
        "full",
        [
            "password",
            "last_login",
            "failed_login_count",
            "failed_login_window_started_at",
            "locked_until",
            "is_staff",
        ],
    ),
    ("auth_group", "auth.group", "full", []),
    ("models_app_aimodel", "models_app.aimodel", "full", ["search_vector", "tag_names", "install_progress"]),
    ("models_app_tag", "models_app.tag", "full", []),
    ("models_app_modeltag", "models_app.modeltag", "full", []),
    ("admin_app_systemmessage", "admin_app.systemmessage", "full", []),
    ("conversations_app_folder", "conversations_app.folder", "trash", []),
    ("conversations_app_conversation", "conversations_app.conversation", "trash", []),
    ("conversations_app_note", "conversations_app.note", "trash", []),
    ("conversations_app_feedback", "conversations_app.feedback", "trash", []),
    ("conversations_app_attachment", "conversations_app.attachment", "trash", []),
]

FUNCTIONS = r"""
-- A time-ordered UUID (version 7), like the ids the application makes.
CREATE FUNCTION admin_audit_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- TG_ARGV: target type, mode ('full' | 'trash'), columns never recorded (a text[] literal).
CREATE FUNCTION admin_audit_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ignored text[] := TG_ARGV[2]::text[];
    old_row jsonb;
    new_row jsonb;
    before_values jsonb := '{}';
    after_values jsonb := '{}';
    verb text;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD) - ignored; END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW) - ignored; END IF;

    IF TG_ARGV[1] = 'trash' AND current_setting('ollamanet.audit_all', true) IS DISTINCT FROM 'on' THEN
        IF TG_OP = 'INSERT' THEN
            RETURN NULL;
        END IF;
        old_row := jsonb_build_object('id', old_row -> 'id', 'deleted_at', old_row -> 'deleted_at');
        IF TG_OP = 'UPDATE' THEN
            new_row := jsonb_build_object('id', new_row -> 'id', 'deleted_at', new_row -> 'deleted_at');
        END IF;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(jsonb_object_agg(n.key, o.value), '{}'), coalesce(jsonb_object_agg(n.key, n.value), '{}')
          INTO before_values, after_values
          FROM jsonb_each(new_row) AS n
          JOIN jsonb_each(old_row) AS o ON o.key = n.key
         WHERE n.value IS DISTINCT FROM o.value;
        IF after_values = '{}' THEN
            RETURN NULL;
        END IF;
        verb := CASE
            WHEN after_values ? 'deleted_at' AND before_values -> 'deleted_at' = 'null' THEN 'soft_deleted'
            WHEN after_values ? 'deleted_at' AND after_values -> 'deleted_at' = 'null' THEN 'restored'
            ELSE 'updated'
        END;
    ELSIF TG_OP = 'INSERT' THEN
        after_values := new_row - 'id';
        verb := 'created';
    ELSE
        before_values := old_row - 'id';
        verb := 'deleted';
    END IF;

    INSERT INTO admin_app_auditevent
        (id, created_at, actor_id, actor_repr, action, target_type, target_id, before, after, request_id, ip_address)
    VALUES (
        admin_audit_uuid7(),
        clock_timestamp(),
        nullif(current_setting('ollamanet.audit_actor_id', true), '')::uuid,
        left(coalesce(current_setting('ollamanet.audit_actor', true), ''), 150),
        verb,
        TG_ARGV[0],
        left(coalesce(new_row, old_row) ->> 'id', 64),
        before_values,
        after_values,
        left(coalesce(current_setting('ollamanet.audit_request_id', true), ''), 64),
        nullif(current_setting('ollamanet.audit_ip', true), '')::inet
    );
    RETURN NULL;
END;
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS admin_audit_row_change();
DROP FUNCTION IF EXISTS admin_audit_uuid7();
"""

UPDATE_CONDITIONS = {
    "full": "OLD.* IS DISTINCT FROM NEW.*",
    # Chat touches a conversation on every message: the function only runs when there is something to record.
    "trash": "OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR current_setting('ollamanet.audit_all', true) = 'on'",
}


def _create_triggers(table: str, target_type: str, mode: str, ignored: list[str]) -> str:
    columns = "{" + ",".join(COMMON_IGNORED + ignored) + "}"
    args = f"'{target_type}', '{mode}', '{columns}'"
    return f"""
CREATE TRIGGER audit_row_write AFTER INSERT OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION admin_audit_row_change({args});
CREATE TRIGGER audit_row_update AFTER UPDATE ON {table}
    FOR EACH ROW WHEN ({UPDATE_CONDITIONS[mode]}) EXECUTE FUNCTION admin_audit_row_change({args});
"""


def _drop_triggers(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS audit_row_write ON {table};
DROP TRIGGER IF EXISTS audit_row_update ON {table};
"""


class Migration(migrations.Migration):
    dependencies = [
        ("admin_app", "0002_audit_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("auth_app", "0001_initial"),
        ("models_app", "0001_initial"),
        ("conversations_app", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        *[migrations.RunSQL(_create_triggers(*spec), _drop_triggers(spec[0])) for spec in TABLES],
    ]
