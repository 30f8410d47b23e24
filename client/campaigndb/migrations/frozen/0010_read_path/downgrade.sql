-- Restore what revision 0010_read_path changed: campaigndb.session_kind as revision
-- 0007_tenancy left it (a SQL function).
-- campaigndb.session_kind: 'service', 'tenant' or NULL (neither) for the authenticated login
-- (session_user: SET ROLE and SET cannot change it), from its role memberships.  A
-- superuser or the owner of schema campaigndb is service; a member of a tenant role is a
-- tenant even when it is also a member of a service role (the narrower wins).
CREATE OR REPLACE FUNCTION campaigndb.session_kind()
RETURNS text
LANGUAGE sql
STABLE
AS $function$
    SELECT CASE
             WHEN r.rolsuper THEN 'service'
             WHEN pg_catalog.pg_has_role(r.oid, 'campaigndb_tenant', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, 'campaigndb_tenant_readonly', 'MEMBER')
                  THEN 'tenant'
             WHEN pg_catalog.pg_has_role(r.oid, 'campaigndb_app', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, 'campaigndb_readonly', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER') THEN 'service'
           END
      FROM pg_catalog.pg_roles AS r, pg_catalog.pg_namespace AS n
     WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER
       AND n.nspname OPERATOR(pg_catalog.=) 'campaigndb'
$function$;

REVOKE ALL ON FUNCTION campaigndb.session_kind() FROM PUBLIC;
