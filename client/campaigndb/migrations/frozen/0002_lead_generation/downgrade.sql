-- Remove everything revision 0002_lead_generation created.
DROP FUNCTION IF EXISTS public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid);
DROP FUNCTION IF EXISTS public.update_enrichment_batch(varchar, jsonb);
DROP FUNCTION IF EXISTS public.update_email_verification(uuid, varchar, jsonb);
DROP FUNCTION IF EXISTS public.update_coverage_status(uuid, varchar, integer, integer, numeric, text);
DROP FUNCTION IF EXISTS public.update_campaign_statistics(uuid);
DROP FUNCTION IF EXISTS public.insert_businesses_batch(uuid, varchar, jsonb);
DROP INDEX IF EXISTS campaigndb.gmaps_businesses_facebook_todo_idx;
DROP INDEX IF EXISTS campaigndb.gmaps_businesses_linkedin_todo_idx;
DROP INDEX IF EXISTS campaigndb.gmaps_businesses_email_todo_idx;
