-- Roles (docs/security.md).  Roles are cluster-wide, so creation is idempotent and
-- the roles are never dropped while another database still grants them something.
--   campaigndb_app       EXECUTE on the API functions, nothing else
--   campaigndb_readonly  EXECUTE on the read functions only
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'campaigndb_app') THEN
        CREATE ROLE campaigndb_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'campaigndb_readonly') THEN
        CREATE ROLE campaigndb_readonly NOLOGIN;
    END IF;
END
$roles$;

-- Tables and internal helpers live in their own schema; the API functions live in public.
CREATE SCHEMA campaigndb;
REVOKE ALL ON SCHEMA campaigndb FROM PUBLIC;
COMMENT ON SCHEMA campaigndb IS 'campaigndb tables and internal helpers; the API is in public';
