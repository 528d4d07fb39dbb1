-- chat_app: the role the functions connect as (through RDS Proxy). It may read and write rows, nothing more:
-- no DDL, no TRUNCATE, no schema_migrations. It is created NOLOGIN; in AWS the migrate function (the only one
-- holding the master secret) then gives it LOGIN and the password of its own secret (chatcore.composition).
-- Roles belong to the whole server, not to one database: create it once, whoever migrates first.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chat_app') THEN
        CREATE ROLE chat_app NOLOGIN;
    END IF;
EXCEPTION
    -- another database of the same server migrating at the same moment created it first
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO chat_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO chat_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO chat_app;
-- The migrations' own bookkeeping is not the application's business.
REVOKE ALL ON TABLE schema_migrations FROM chat_app;

-- Tables and sequences that later migrations create (as the role running this one) get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO chat_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO chat_app;
