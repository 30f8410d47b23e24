-- Tenancy (revision 0007; docs/tenancy.md).  Roles are cluster-wide: created when missing,
-- never dropped by a revision.  Each database grants every campaigndb role CONNECT, which
-- anchors the role: revision 0001's downgrade drops only roles nothing refers to, so logins
-- keep their memberships through `downgrade base` + `upgrade head`.
--   campaigndb_tenant           EXECUTE on the workspace API; bound to its workspaces
--   campaigndb_tenant_readonly  EXECUTE on the read functions; bound likewise
--   campaigndb_admin            EXECUTE on the tenant mapping and token secret functions
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['campaigndb_tenant', 'campaigndb_tenant_readonly',
                                  'campaigndb_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO campaigndb_app, campaigndb_readonly, '
                   'campaigndb_tenant, campaigndb_tenant_readonly, campaigndb_admin',
                   current_database());
END
$roles$;

-- Which workspaces a tenant login may touch (admin-managed: map_tenant_login).
CREATE TABLE campaigndb.tenant_logins (
    role_name     name        NOT NULL,
    workspace_id  uuid        NOT NULL REFERENCES campaigndb.workspaces (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_logins_pkey PRIMARY KEY (role_name, workspace_id)
);
CREATE INDEX tenant_logins_workspace_id_idx ON campaigndb.tenant_logins (workspace_id);

-- HS256 secrets of workspace tokens, stored as the two HMAC pads (key XOR ipad, key XOR
-- opad), so that a verification is two sha256 calls.  Only the owning role reads them.
CREATE TABLE campaigndb.token_secrets (
    id          integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inner_pad   bytea       NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad   bytea       NOT NULL CHECK (length(outer_pad) = 64),
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE campaigndb.token_secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON campaigndb.token_secrets USING (false);  -- the owner bypasses it
ALTER TABLE campaigndb.tenant_logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mapping ON campaigndb.tenant_logins FOR SELECT
    USING (role_name = session_user);

-- Idempotency keys per campaign (cost rows) and per workspace (collection log): the same
-- key in two workspaces is two keys, and a key never collides with another workspace's.
ALTER TABLE campaigndb.gmaps_api_costs DROP CONSTRAINT gmaps_api_costs_idempotency_key_key;
ALTER TABLE campaigndb.gmaps_api_costs ADD CONSTRAINT gmaps_api_costs_idempotency_key_key
    UNIQUE (campaign_id, idempotency_key);
ALTER TABLE campaigndb.collection_log DROP CONSTRAINT collection_log_idempotency_key_key;
CREATE UNIQUE INDEX collection_log_idempotency_key_key
    ON campaigndb.collection_log (workspace_id, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;

-- Client-chosen ids (campaign id, execution id) are keys within their workspace: the row
-- keeps the id the client asked for in request_id; its primary key is that id unless
-- another workspace holds it, then a server-chosen one (the answer names the real id).
ALTER TABLE campaigndb.campaigns ADD COLUMN request_id uuid;
ALTER TABLE campaigndb.campaigns ADD CONSTRAINT campaigns_workspace_request_id_key
    UNIQUE (workspace_id, request_id);
ALTER TABLE campaigndb.n8n_campaign_executions ADD COLUMN request_id uuid;
ALTER TABLE campaigndb.n8n_campaign_executions
    ADD CONSTRAINT n8n_campaign_executions_workspace_request_id_key
    UNIQUE (workspace_id, request_id);
UPDATE campaigndb.campaigns SET request_id = id;
UPDATE campaigndb.n8n_campaign_executions SET request_id = id;
