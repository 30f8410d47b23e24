-- Remove everything revision 0001_foundation created.
DROP FUNCTION IF EXISTS public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text);
DROP FUNCTION IF EXISTS public.create_campaign_with_coverage(jsonb, jsonb);
DROP FUNCTION IF EXISTS public.create_workspace(text, uuid);
DROP SCHEMA IF EXISTS campaigndb CASCADE;

-- Roles are cluster-wide: drop them unless another database still grants them something.
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['campaigndb_app', 'campaigndb_readonly'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('DROP ROLE %I', v_role);
            EXCEPTION WHEN dependent_objects_still_exist THEN
                RAISE NOTICE 'role % kept: another database still uses it', v_role;
            END;
        END IF;
    END LOOP;
END
$roles$;
