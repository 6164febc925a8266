"""The audit trail is append-only: PostgreSQL refuses UPDATE and DELETE on its rows."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION admin_audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER admin_audit_event_append_only
    BEFORE UPDATE OR DELETE ON admin_app_auditevent
    FOR EACH ROW EXECUTE FUNCTION admin_audit_event_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS admin_audit_event_append_only ON admin_app_auditevent;
DROP FUNCTION IF EXISTS admin_audit_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("admin_app", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
