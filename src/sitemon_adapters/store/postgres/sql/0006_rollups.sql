-- The read side's tables: the newest result per site AND region, and hourly rollups per
-- site x region x hour, both maintained by save() in the transaction of the history insert.
-- (Written to stand on its own: it only needs site_status, so it applies under whatever
-- number it is given.)
--
-- Rollups mirror sitemon_core.rollup.Rollup exactly: integer microseconds (so the additive
-- upsert equals a fold from scratch), a sum and a count per phase (plain columns: an update
-- adds integers, no array function), the latency histogram sparse as jsonb {"bucket": count}.
-- Only the rows the history insert really added are folded in: a replay never counts twice.
-- No minute rollups: the charts' smallest bucket is an hour (sitemon_core.queries).

-- Same columns as site_status; only a newer (started_at, check_id) replaces a row.
CREATE TABLE site_region_status (
    LIKE site_status INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    CONSTRAINT site_region_status_pkey PRIMARY KEY (site_id, region)
) WITH (fillfactor = 70);

-- What is known already: the newest result per site (its region's newest, at least).
INSERT INTO site_region_status SELECT * FROM site_status;

CREATE TABLE check_rollup_hourly (
    hour         timestamptz      NOT NULL,  -- rollup.period_start(started_at), UTC
    total_min_us bigint           NOT NULL,
    total_max_us bigint           NOT NULL,
    total_sum_us bigint           NOT NULL,
    checks       integer          NOT NULL,
    ok           integer          NOT NULL,
    dns_sum_us      bigint NOT NULL,
    connect_sum_us  bigint NOT NULL,
    tls_sum_us      bigint NOT NULL,
    ttfb_sum_us     bigint NOT NULL,
    transfer_sum_us bigint NOT NULL,
    dns_n           integer NOT NULL,  -- checks that measured the phase
    connect_n       integer NOT NULL,
    tls_n           integer NOT NULL,
    ttfb_n          integer NOT NULL,
    transfer_n      integer NOT NULL,
    histogram    jsonb            NOT NULL,  -- {"17": 3, "18": 9}
    site_id      text COLLATE "C" NOT NULL,
    region       text COLLATE "C" NOT NULL,
    CONSTRAINT check_rollup_hourly_pkey PRIMARY KEY (site_id, hour, region),
    CONSTRAINT check_rollup_hourly_ok CHECK (0 <= ok AND ok <= checks)
) WITH (fillfactor = 80);

-- A sparse histogram plus a (small: one batch's) delta: only the delta's keys are visited.
CREATE FUNCTION sitemon_hist_add(a jsonb, delta jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT a || coalesce(jsonb_object_agg(k, coalesce((a ->> k)::bigint, 0) + n::bigint), '{}')
    FROM jsonb_each_text(delta) AS d(k, n)
$$;
