-- campaigndb.session_kind: 'service', 'tenant' or NULL (neither) for the authenticated login
-- (session_user: SET ROLE and SET cannot change it), from its role memberships.  A
-- superuser or the owner of schema campaigndb is service; a member of a tenant role is a
-- tenant even when it is also a member of a service role (the narrower wins).
-- PL/pgSQL rather than SQL: PL/pgSQL keeps its query's plan for the session, while a SQL
-- function that cannot be inlined (this one reads catalogs) is parsed and planned again in
-- every transaction: about 50 us, a sixth of a page of get_businesses_for_enrichment
-- (docs/client.md, "Where a call's time goes").
CREATE OR REPLACE FUNCTION campaigndb.session_kind()
RETURNS text
LANGUAGE plpgsql
STABLE
AS $function$
BEGIN
    RETURN (
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
           AND n.nspname OPERATOR(pg_catalog.=) 'campaigndb');
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.session_kind() FROM PUBLIC;
