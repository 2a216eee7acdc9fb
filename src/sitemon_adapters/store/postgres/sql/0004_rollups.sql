-- The read side's tables: the newest result per site AND region, and hourly rollups per
-- site x region x hour, both maintained by save() in the transaction of the history insert.
-- (Written to stand on its own: it only needs site_status, so it applies under whatever
-- number it is given.)
--
-- Rollups mirror sitemon_core.rollup.Rollup exactly: integer microseconds (so the additive
-- upsert equals a fold from scratch), per-phase sums and counts in PHASES order (dns,
-- connect, tls, ttfb, transfer), the latency histogram sparse as jsonb {"bucket": count}.
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
    phase_sum_us bigint[]         NOT NULL,  -- 5 entries, PHASES order
    phase_count  bigint[]         NOT NULL,  -- 5 entries
    histogram    jsonb            NOT NULL,  -- {"17": 3, "18": 9}
    site_id      text COLLATE "C" NOT NULL,
    region       text COLLATE "C" NOT NULL,
    CONSTRAINT check_rollup_hourly_pkey PRIMARY KEY (site_id, hour, region),
    CONSTRAINT check_rollup_hourly_ok CHECK (0 <= ok AND ok <= checks)
) WITH (fillfactor = 80);

-- Two sparse histograms added bucket by bucket (exact: counts are integers).
CREATE FUNCTION sitemon_hist_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT k, sum(v::bigint) AS n
          FROM (SELECT key AS k, value AS v FROM jsonb_each_text(a)
                UNION ALL
                SELECT key, value FROM jsonb_each_text(b)) AS both_sides
          GROUP BY k) AS summed
$$;

-- Two arrays of the same length added element by element.
CREATE FUNCTION sitemon_array_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS p(x, y, i)
$$;
