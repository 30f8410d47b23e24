-- Partial indexes behind get_businesses_for_enrichment: the businesses of a campaign that
-- still need one kind of enrichment, in id order (keyset paging on id).
CREATE INDEX gmaps_businesses_facebook_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id) WHERE facebook_enriched_at IS NULL;
CREATE INDEX gmaps_businesses_linkedin_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id) WHERE linkedin_enriched_at IS NULL;
CREATE INDEX gmaps_businesses_email_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id)
    WHERE email IS NOT NULL AND email_verification_status = 'unverified';
