-- Revision 0008 (docs/limits.md): money is micro-dollars, numeric(18,6) (below 1e12, six
-- decimals), and campaign rows get a page nearly to themselves so that the total's update
-- by track_campaign_cost always finds room for a HOT update.
--
-- fillfactor 10: an insert leaves 90 % of a page free (about 3 campaigns a page instead of
-- about 19), so a campaign's new row versions stay on its page (HOT: no new index entry).
-- A non-HOT update writes a campaigns_pkey entry into a leaf page that every concurrent
-- SERIALIZABLE caller of another campaign has predicate-locked, and makes them conflict.
-- Set before the type change below, whose table rewrite then packs existing rows this way.
ALTER TABLE campaigndb.campaigns SET (fillfactor = 10);

-- Narrowing numeric to numeric(18,6) rounds a value with more decimals (half away from
-- zero) and fails with 22003 on one of 1e12 or more.  The cost rows are rounded first, then
-- each total that no longer equals the sum of its rounded rows is recomputed from them, so
-- that total_cost = the sum of the cost rows still holds afterwards.  Each ALTER rewrites
-- its table under an ACCESS EXCLUSIVE lock (gmaps_api_costs: about 1 s per million rows).
ALTER TABLE campaigndb.gmaps_api_costs ALTER COLUMN cost_usd TYPE numeric(18,6);
UPDATE campaigndb.campaigns AS c
   SET total_cost = s.total
  FROM (SELECT k.campaign_id, sum(k.cost_usd) AS total
          FROM campaigndb.gmaps_api_costs AS k GROUP BY k.campaign_id) AS s
 WHERE s.campaign_id = c.id AND c.total_cost <> s.total;
ALTER TABLE campaigndb.campaigns ALTER COLUMN total_cost TYPE numeric(18,6);
ALTER TABLE campaigndb.gmaps_campaign_coverage
    ALTER COLUMN estimated_cost TYPE numeric(18,6),
    ALTER COLUMN actual_cost TYPE numeric(18,6);
