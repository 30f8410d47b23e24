-- insert_businesses_batch(p_campaign_id uuid, p_zip_code varchar, p_businesses jsonb) -> jsonb
-- docs/contract.md section 3: returns inserted, updated, skipped.  New (campaign_id, place_id):
-- inserted; existing with changed fields: updated (absent fields keep their stored value);
-- unchanged, repeated within the batch (first occurrence wins) or without place_id: skipped.
-- A value of the wrong type anywhere fails the whole batch (nothing written); at most 25,000
-- elements (54000); 10,000 in one call is normal use.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(100);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'insert_businesses_batch', ARRAY['uuid', 'character varying', 'jsonb'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.insert_businesses_batch(uuid, varchar, jsonb)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'insert_businesses_batch pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'insert_businesses_batch', ARRAY['uuid', 'character varying', 'jsonb'], false);

-- ===========================================================================================
-- Setup: workspace A with campaigns A1 and A2, workspace B with campaign B1
-- ===========================================================================================
\ir lib/workspaces.psql
\set a1_zips '["73301", "73344"]'
\ir lib/campaigns.psql

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', insert_businesses_batch(
        'b1b1b1b1-0000-4000-8000-000000000001', '20001',
        '[{"place_id": "app-1", "name": "Made by the app"}]')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb,
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 1, "updated": 0, "skipped": 0}'::jsonb,
          'campaigndb_app, which holds no table privilege, inserts a business through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM insert_businesses_batch('b1b1b1b1-0000-4000-8000-000000000001', '20001',
                                          '[{"place_id": "ro-1", "name": "Readonly"}]');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on insert_businesses_batch (42501)');

-- ===========================================================================================
-- Happy path: three new businesses
-- ===========================================================================================
CALL pg_temp.call('first batch', $$
    SELECT insert_businesses_batch(
        p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001', p_zip_code => '73301',
        p_businesses => '[
            {"place_id": "p1", "name": "Austin Dental", "address": "1 Congress Ave",
             "city": "Austin", "state": "TX", "phone": "+1 512 555 0101",
             "website": "https://austindental.example", "category": "Dentist", "rating": 4.5,
             "reviews_count": 120, "latitude": 30.2672, "longitude": -97.7431,
             "email": "info@austindental.example",
             "facebook_url": "https://facebook.com/austindental",
             "linkedin_url": "https://linkedin.com/company/austindental",
             "raw_data": {"source": "gmaps", "hours": ["9-5"]}},
            {"place_id": "p2", "name": "Bee Cave Smiles"},
            {"place_id": "p3", "name": "Cedar Park Ortho", "phone": "+1 512 555 0103"}]')
$$);

SELECT is(pg_temp.envelope('first batch'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 3, "updated": 0, "skipped": 0}'::jsonb,
          'first batch: success envelope with inserted 3, updated 0, skipped 0');
SELECT is(pg_temp.rows_added('first batch'), '{"gmaps_businesses": 3}'::jsonb,
          'first batch: exactly three business rows added');
SELECT is((SELECT jsonb_build_object(
                      'campaign_id', b.campaign_id, 'zip_code', b.zip_code, 'name', b.name,
                      'address', b.address, 'city', b.city, 'state', b.state,
                      'phone', b.phone, 'website', b.website, 'category', b.category,
                      'rating', b.rating, 'reviews_count', b.reviews_count,
                      'latitude', b.latitude, 'longitude', b.longitude, 'email', b.email,
                      'facebook_url', b.facebook_url, 'linkedin_url', b.linkedin_url,
                      'raw_data', b.raw_data,
                      'email_verification_status', b.email_verification_status)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p1'),
          '{"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "zip_code": "73301",
            "name": "Austin Dental", "address": "1 Congress Ave", "city": "Austin",
            "state": "TX", "phone": "+1 512 555 0101",
            "website": "https://austindental.example", "category": "Dentist", "rating": 4.5,
            "reviews_count": 120, "latitude": 30.2672, "longitude": -97.7431,
            "email": "info@austindental.example",
            "facebook_url": "https://facebook.com/austindental",
            "linkedin_url": "https://linkedin.com/company/austindental",
            "raw_data": {"source": "gmaps", "hours": ["9-5"]},
            "email_verification_status": "unverified"}'::jsonb,
          'first batch: p1 holds every field of its element, zip and campaign of the call');
SELECT set_eq(
    $$SELECT b.place_id, b.name, b.phone, b.zip_code::text FROM campaigndb.gmaps_businesses AS b
       WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'$$,
    $$VALUES ('p1', 'Austin Dental', '+1 512 555 0101', '73301'),
             ('p2', 'Bee Cave Smiles', NULL, '73301'),
             ('p3', 'Cedar Park Ortho', '+1 512 555 0103', '73301')$$,
    'first batch: campaign A1 holds p1, p2, p3');

-- ===========================================================================================
-- The same batch again: everything unchanged, all skipped, nothing written
-- ===========================================================================================
CALL pg_temp.call('same batch again', $$
    SELECT insert_businesses_batch(
        'a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "p1", "name": "Austin Dental", "address": "1 Congress Ave",
           "city": "Austin", "state": "TX", "phone": "+1 512 555 0101",
           "website": "https://austindental.example", "category": "Dentist", "rating": 4.50,
           "reviews_count": 120, "latitude": 30.2672, "longitude": -97.7431,
           "email": "info@austindental.example",
           "facebook_url": "https://facebook.com/austindental",
           "linkedin_url": "https://linkedin.com/company/austindental",
           "raw_data": {"hours": ["9-5"], "source": "gmaps"}},
          {"place_id": "p2", "name": "Bee Cave Smiles"},
          {"place_id": "p3", "name": "Cedar Park Ortho", "phone": "+1 512 555 0103"}]')
$$);
SELECT is(pg_temp.envelope('same batch again'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 0, "updated": 0, "skipped": 3}'::jsonb,
          'same batch again: inserted 0, updated 0, skipped 3');
SELECT is(pg_temp.changes('same batch again'), '{}'::jsonb,
          'same batch again: nothing written (not even updated_at)');

-- ===========================================================================================
-- A mixed batch: each way an element is inserted, updated or skipped
-- ===========================================================================================
-- the row versions (ctid) before the mixed batch: a rewritten row gets a new one
CREATE TEMP TABLE ctid_before AS
SELECT b.place_id, b.ctid::text AS row_version FROM campaigndb.gmaps_businesses AS b
 WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001';

CALL pg_temp.call('mixed batch', $$
    SELECT insert_businesses_batch(
        'a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "p1", "name": "Austin Dental"},
          {"place_id": "p2", "name": "Bee Cave Smiles & Braces"},
          {"place_id": "p3", "name": "Cedar Park Ortho", "phone": "+1 512 555 9999"},
          {"place_id": "p4", "name": "Dripping Springs Dental", "city": "Dripping Springs"},
          {"place_id": "p4", "name": "Repeat of p4", "city": "Elsewhere"},
          {"name": "No place id"},
          {"place_id": "", "name": "Empty place id"},
          {"place_id": null, "name": "Null place id"},
          {"place_id": "p3", "name": "Repeat of p3"}]')
$$);
SELECT is(pg_temp.envelope('mixed batch'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 1, "updated": 2, "skipped": 6}'::jsonb,
          'mixed batch: p4 inserted; p2 (name) and p3 (phone) updated; p1 unchanged, '
          'two repeats and three elements without place_id skipped');
SELECT is(pg_temp.rows_added('mixed batch'), '{"gmaps_businesses": 1}'::jsonb,
          'mixed batch: exactly one business row added');
SELECT is((SELECT jsonb_build_object('name', b.name, 'phone', b.phone)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p3'),
          '{"name": "Cedar Park Ortho", "phone": "+1 512 555 9999"}'::jsonb,
          'mixed batch: p3''s changed phone is written (the first occurrence wins over the repeat)');
SELECT is((SELECT b.name FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p2'),
          'Bee Cave Smiles & Braces', 'mixed batch: p2''s new name is written');
SELECT is((SELECT jsonb_build_object('name', b.name, 'city', b.city)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p4'),
          '{"name": "Dripping Springs Dental", "city": "Dripping Springs"}'::jsonb,
          'mixed batch: p4 holds its first occurrence, not the repeat');
SELECT is((SELECT jsonb_build_object('address', b.address, 'city', b.city, 'phone', b.phone,
                                     'rating', b.rating, 'email', b.email,
                                     'raw_data', b.raw_data)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p1'),
          '{"address": "1 Congress Ave", "city": "Austin", "phone": "+1 512 555 0101",
            "rating": 4.5, "email": "info@austindental.example",
            "raw_data": {"source": "gmaps", "hours": ["9-5"]}}'::jsonb,
          'mixed batch: p1, sent with place_id and name only, keeps every stored field');
SELECT is(ARRAY(SELECT b.place_id FROM campaigndb.gmaps_businesses AS b
                  JOIN ctid_before AS o ON o.place_id = b.place_id
                 WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
                   AND b.ctid::text <> o.row_version
                 ORDER BY 1),
          ARRAY['p2', 'p3'],
          'mixed batch: exactly p2 and p3 were rewritten (p1, unchanged, was not touched)');
SELECT is((SELECT count(*)::int FROM campaigndb.gmaps_businesses AS b
            WHERE b.name IN ('No place id', 'Empty place id', 'Null place id')),
          0, 'mixed batch: no row for the elements without place_id');

-- ===========================================================================================
-- One changed field among absent ones: updated, the absent fields keep their values
-- ===========================================================================================
CALL pg_temp.call('rating changed', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "p1", "name": "Austin Dental", "rating": 4.8, "reviews_count": 121}]')
$$);
SELECT is(pg_temp.envelope('rating changed'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 0, "updated": 1, "skipped": 0}'::jsonb,
          'rating changed: updated 1');
SELECT is((SELECT jsonb_build_object('rating', b.rating, 'reviews_count', b.reviews_count,
                                     'address', b.address, 'website', b.website,
                                     'linkedin_url', b.linkedin_url, 'latitude', b.latitude)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p1'),
          '{"rating": 4.8, "reviews_count": 121, "address": "1 Congress Ave",
            "website": "https://austindental.example",
            "linkedin_url": "https://linkedin.com/company/austindental",
            "latitude": 30.2672}'::jsonb,
          'rating changed: rating and reviews_count written, absent fields kept');
SELECT is(pg_temp.rows_added('rating changed'), '{}'::jsonb, 'rating changed: no row added');

-- the same place_id in another campaign is another business
CALL pg_temp.call('same place, other campaign', $$
    SELECT insert_businesses_batch('a2a2a2a2-0000-4000-8000-000000000002', NULL,
        '[{"place_id": "p1", "name": "Austin Dental"}]')
$$);
SELECT is(pg_temp.envelope('same place, other campaign') -> 'inserted', '1'::jsonb,
          'the same place_id in campaign A2 is inserted (unique per campaign)');
SELECT is(pg_temp.rows_added('same place, other campaign'), '{"gmaps_businesses": 1}'::jsonb,
          'the same place_id in campaign A2: one row added');

CALL pg_temp.call('empty batch', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301', '[]')
$$);
SELECT is(pg_temp.envelope('empty batch'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 0, "updated": 0, "skipped": 0}'::jsonb,
          'an empty batch succeeds with zero counts');

-- ===========================================================================================
-- A value of the wrong type anywhere fails the whole batch (22023), nothing written
-- (each batch also holds a good new element and a good update, which must not be applied)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('rating "x"', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "p2", "name": "Renamed"},
          {"place_id": "bad", "name": "Bad", "rating": "x"}]')
$$, '22023');
SELECT ok(pg_temp.envelope('rating "x"') ->> 'error' ~ 'p_businesses\[2\]\.rating',
          'rating "x": the message names the element and field (p_businesses[2].rating)');
SELECT * FROM pg_temp.fails_with('reviews_count 1.5', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "p2", "name": "Renamed"},
          {"place_id": "bad", "name": "Bad", "reviews_count": 1.5}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('reviews_count "12"', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "reviews_count": "12"}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('name 5', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": 5}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('place_id 42', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": 42, "name": "Numeric place"}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('latitude "30.1"', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "latitude": "30.1"}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('raw_data an array', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "raw_data": [1]}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('phone an object', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "phone": {"n": 1}}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('an element that is not an object', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, "p9"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('an element that is null', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, null]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a wrong type in an element without place_id', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"name": "No place", "rating": "x"}]')
$$, '22023');

-- ===========================================================================================
-- Values the table refuses: out of range (23514 check, 22003 numeric overflow)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('rating 9 (above 5)', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "rating": 9}]')
$$, '23514');
SELECT * FROM pg_temp.fails_with('rating 10 (numeric(3,2) overflow)', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "rating": 10}]')
$$, '22003');
SELECT * FROM pg_temp.fails_with('reviews_count -1', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "reviews_count": -1}]')
$$, '23514');
SELECT * FROM pg_temp.fails_with('latitude 91', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "bad", "name": "Bad", "latitude": 91}]')
$$, '23514');

-- ===========================================================================================
-- A place without a name (23502)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('name missing', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "nameless"}]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('name null', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "nameless", "name": null}]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('name blank', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "nameless", "name": "   "}]')
$$, '23502');

-- ===========================================================================================
-- The call itself: p_businesses shape and size, campaign, ZIP
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('p_businesses an object', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '{"place_id": "new-1", "name": "New"}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_businesses a string', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301', '"p1"')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_businesses NULL', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301', NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('more than 25,000 elements', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        (SELECT jsonb_agg(jsonb_build_object('place_id', 'big-' || g, 'name', 'Big ' || g))
           FROM generate_series(1, 25001) AS g))
$$, '54000');
SELECT * FROM pg_temp.fails_with('unknown campaign', $$
    SELECT insert_businesses_batch('eeeeeeee-0000-4000-8000-00000000000e', '73301',
        '[{"place_id": "new-1", "name": "New"}]')
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('NULL campaign', $$
    SELECT insert_businesses_batch(NULL, '73301', '[{"place_id": "new-1", "name": "New"}]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('a ZIP that is not a ZIP code', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73;301',
        '[{"place_id": "new-1", "name": "New"}]')
$$, '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a batch into campaign A1', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}, {"place_id": "p2", "name": "Renamed"}]')
$$, '42501');
CALL pg_temp.call('bound to workspace B, a batch into campaign B1', $$
    SELECT insert_businesses_batch('b1b1b1b1-0000-4000-8000-000000000001', '20001',
        '[{"place_id": "b-1", "name": "In B"}]')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, a batch into campaign B1') -> 'inserted',
          '1'::jsonb, 'bound to workspace B: a batch into campaign B1 is inserted');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
        '[{"place_id": "new-1", "name": "New"}]')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT insert_businesses_batch(
                       p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                       p_zip_code => '73301', p_businesses => '[{"place_id": "x"')$$,
                 '22P02', NULL,
                 'p_businesses => malformed JSON raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- Normal use: 10,000 businesses in one call, then 10,000 more of which half exist
-- ===========================================================================================
CALL pg_temp.call('10,000 businesses', $$
    SELECT insert_businesses_batch('a2a2a2a2-0000-4000-8000-000000000002', '10001',
        (SELECT jsonb_agg(jsonb_build_object(
                    'place_id', 'bulk-' || g, 'name', 'Business ' || g,
                    'address', g || ' Main St', 'rating', (g % 50) / 10.0,
                    'reviews_count', g, 'email', 'owner' || g || '@example.com')
                  ORDER BY g)
           FROM generate_series(1, 10000) AS g))
$$);
SELECT is(pg_temp.envelope('10,000 businesses'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 10000, "updated": 0, "skipped": 0}'::jsonb,
          '10,000 businesses: inserted 10000');
SELECT is(pg_temp.rows_added('10,000 businesses'), '{"gmaps_businesses": 10000}'::jsonb,
          '10,000 businesses: 10,000 rows added');

-- 9,500 elements for place_ids bulk-15000 down to bulk-5501 (descending, to mix the order):
-- 4,500 exist (500 of them renamed), 5,000 are new; then 500 elements repeat bulk-5501..6000
CALL pg_temp.call('10,000 overlapping', $$
    SELECT insert_businesses_batch('a2a2a2a2-0000-4000-8000-000000000002', '10001',
        (SELECT jsonb_agg(e ORDER BY ord)
           FROM (SELECT g AS ord,
                        jsonb_build_object(
                            'place_id', 'bulk-' || g,
                            'name', CASE WHEN g <= 6000 THEN 'Renamed ' ELSE 'Business ' END || g)
                          AS e
                   FROM generate_series(15000, 5501, -1) AS g
                 UNION ALL
                 SELECT 20000 + g, jsonb_build_object('place_id', 'bulk-' || g, 'name', 'Again ' || g)
                   FROM generate_series(5501, 6000) AS g) AS x))
$$);
SELECT is(pg_temp.envelope('10,000 overlapping'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "inserted": 5000, "updated": 500, "skipped": 4500}'::jsonb,
          '10,000 overlapping: 5,000 new inserted, 500 renamed updated, 4,000 unchanged and '
          '500 repeats skipped');
SELECT is(pg_temp.rows_added('10,000 overlapping'), '{"gmaps_businesses": 5000}'::jsonb,
          '10,000 overlapping: 5,000 rows added');
SELECT is((SELECT count(*)::int FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a2a2a2a2-0000-4000-8000-000000000002'
              AND b.name LIKE 'Again %'),
          0, '10,000 overlapping: the repeats did not win over the first occurrences');
SELECT is((SELECT jsonb_build_object('name', b.name, 'address', b.address, 'email', b.email)
             FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a2a2a2a2-0000-4000-8000-000000000002'
              AND b.place_id = 'bulk-5600'),
          '{"name": "Renamed 5600", "address": "5600 Main St",
            "email": "owner5600@example.com"}'::jsonb,
          '10,000 overlapping: a renamed business keeps its other fields');
SELECT is((SELECT count(*)::int FROM campaigndb.gmaps_businesses AS b
            WHERE b.campaign_id = 'a2a2a2a2-0000-4000-8000-000000000002'),
          15001, 'campaign A2 holds 15,001 businesses (15,000 bulk and p1)');
SELECT is((SELECT count(*)::int
             FROM (SELECT 1 FROM campaigndb.gmaps_businesses AS b
                    GROUP BY b.campaign_id, b.place_id HAVING count(*) > 1) AS d),
          0, 'no two businesses share (campaign_id, place_id)');

SELECT * FROM finish();
ROLLBACK;
