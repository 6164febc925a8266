"""Enable `pg_stat_statements` in this database when the server can serve it, so the staff API can
list slow statements.

Creating the extension needs a superuser, and its view only works when the server preloads the
library (`shared_preload_libraries`). When either is missing nothing happens here, and the slow
statements endpoint answers that the extension is not enabled.

Going back leaves the extension in place: it may have been installed before, by an administrator
who relies on its statistics.
"""

from django.db import migrations

FORWARD = """
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF 'pg_stat_statements' = ANY (
            string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')
        ) AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
            CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        END IF;
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("admin_app", "0004_modelpull")]

    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
