"""The ledger's append-only trigger covers TRUNCATE too (a row trigger never sees it).

A session may truncate only when it says so with `SET finrag.ledger_truncate = 'allow'`: the test
settings set it on their connections so that Django can flush the test database between
tests; nothing in production does.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_ledger_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('finrag.ledger_truncate', true), '') = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'billing_ledgerentry is append-only: TRUNCATE refused'
        USING ERRCODE = 'restrict_violation',
              HINT = 'Record a correcting entry instead of removing entries.';
END;
$$;
CREATE TRIGGER billing_ledger_no_truncate
    BEFORE TRUNCATE ON billing_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION billing_ledger_refuse_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_ledger_no_truncate ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledger_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_budget_functions")]

    operations = [migrations.RunSQL(CREATE, DROP)]
