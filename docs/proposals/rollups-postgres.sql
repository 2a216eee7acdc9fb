-- SUPERSEDED: what was built is store/postgres/sql/0004_rollups.sql (renumbered at merge) and
-- store/postgres/rollups.py (the fold in SQL, plain phase columns); kept for its history.
-- PROPOSAL (not applied by any migration yet): the read side's tables and queries for
-- PostgreSQL, to become migration 0003 (main has 0002_outcome_tags) once the store refactor
-- lands. Checked against the shared PostgreSQL 15.18 by check_rollups_sql.py next to this
-- file. SQLite: the same tables with
-- text/JSON for the arrays and a Python-registered hist_add.
--
-- Rollups mirror sitemon_core.rollup.Rollup exactly: integer microseconds (so the additive
-- upsert below equals a fold from scratch, the law tests/unit/test_rollup.py proves), the
-- per-phase sums/counts in PHASES order (dns, connect, tls, ttfb, transfer), and the latency
-- histogram sparse as jsonb {"bucket index": count} (bucket_of(); 185 buckets, ±4.9 %).

-- The newest result per site AND region (site_status keeps only one per site).
CREATE TABLE site_region_status (
    started_at    timestamptz      NOT NULL,
    total_ms      double precision NOT NULL,
    status_code   integer,
    ok            boolean          NOT NULL,
    site_id       text COLLATE "C" NOT NULL,
    region        text COLLATE "C" NOT NULL,
    check_id      text COLLATE "C" NOT NULL,
    error_kind    text             NOT NULL,
    error_message text             NOT NULL,
    CONSTRAINT site_region_status_pkey PRIMARY KEY (site_id, region)
) WITH (fillfactor = 70);

CREATE TABLE check_rollup_hourly (
    hour         timestamptz      NOT NULL,  -- rollup.period_start(started_at), UTC
    total_min_us bigint           NOT NULL,
    total_max_us bigint           NOT NULL,
    total_sum_us bigint           NOT NULL,
    checks       integer          NOT NULL,
    ok           integer          NOT NULL,
    phase_sum_us bigint[]         NOT NULL,  -- 5 entries, PHASES order
    phase_count  integer[]        NOT NULL,  -- 5 entries
    histogram    jsonb            NOT NULL,  -- {"17": 3, "18": 9}
    site_id      text COLLATE "C" NOT NULL,
    region       text COLLATE "C" NOT NULL,
    CONSTRAINT check_rollup_hourly_pkey PRIMARY KEY (site_id, hour, region),
    CONSTRAINT check_rollup_hourly_ok CHECK (0 <= ok AND ok <= checks)
) WITH (fillfactor = 80);

-- Kept 90 days for the uptime bar; the hourly table 30 days. A periodic job folds whole
-- UTC days of hourly rows into daily ones (same columns, exact: merge is addition) before
-- retention deletes them.
CREATE TABLE check_rollup_daily (LIKE check_rollup_hourly INCLUDING ALL);
ALTER TABLE check_rollup_daily RENAME COLUMN hour TO day;

CREATE FUNCTION hist_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT k, sum(v::bigint) AS n
          FROM (SELECT key AS k, value AS v FROM jsonb_each_text(a)
                UNION ALL
                SELECT key, value FROM jsonb_each_text(b)) AS both_sides
          GROUP BY k) AS summed
$$;

-- WRITE, in save()'s transaction, after
--   INSERT INTO check_history … ON CONFLICT (check_id) DO NOTHING RETURNING check_id
-- fold ONLY the returned (new) rows with sitemon_core.rollup.fold(), sort the deltas by key
-- (a fixed lock order: no deadlock between consumer workers), then one asyncpg executemany
-- of this statement, a row per delta:
INSERT INTO check_rollup_hourly AS r
    (site_id, region, hour, checks, ok, total_min_us, total_max_us, total_sum_us,
     phase_sum_us, phase_count, histogram)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (site_id, hour, region) DO UPDATE SET
    checks       = r.checks + EXCLUDED.checks,
    ok           = r.ok + EXCLUDED.ok,
    total_min_us = least(r.total_min_us, EXCLUDED.total_min_us),
    total_max_us = greatest(r.total_max_us, EXCLUDED.total_max_us),
    total_sum_us = r.total_sum_us + EXCLUDED.total_sum_us,
    phase_sum_us = ARRAY(SELECT x + y FROM unnest(r.phase_sum_us, EXCLUDED.phase_sum_us)
                             WITH ORDINALITY AS p(x, y, i) ORDER BY i),
    phase_count  = ARRAY(SELECT x + y FROM unnest(r.phase_count, EXCLUDED.phase_count)
                             WITH ORDINALITY AS p(x, y, i) ORDER BY i),
    histogram    = hist_add(r.histogram, EXCLUDED.histogram);

-- Per-region latest: like site_status, only a newer (started_at, check_id) replaces.
INSERT INTO site_region_status AS s
    (started_at, total_ms, status_code, ok, site_id, region, check_id, error_kind, error_message)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (site_id, region) DO UPDATE SET
    started_at = EXCLUDED.started_at, total_ms = EXCLUDED.total_ms,
    status_code = EXCLUDED.status_code, ok = EXCLUDED.ok, check_id = EXCLUDED.check_id,
    error_kind = EXCLUDED.error_kind, error_message = EXCLUDED.error_message
WHERE (EXCLUDED.started_at, EXCLUDED.check_id) > (s.started_at, s.check_id);

-- READ. sites(): the catalogue (tags, URL) comes from the config in the web process; the
-- state of every site from one scan (20k rows at 10k sites x 2 regions, cache ~1 s):
SELECT site_id, region, ok, started_at FROM site_region_status;

-- site()/sites() page summaries (50 ids at a time): per-region latest …
SELECT * FROM site_region_status WHERE site_id = ANY($1::text[]) ORDER BY site_id, region;
-- … and uptime 24h/7d/30d plus the 90-bar, one grouped scan per page
-- ($2 = period_start(now - 30 d), $3 = end of the current hour, $4 = bar bucket):
SELECT site_id, date_bin($4::interval, hour, '2000-01-01') AS bucket,
       sum(checks) AS checks, sum(ok) AS ok
FROM check_rollup_hourly
WHERE site_id = ANY($1::text[]) AND hour >= $2 AND hour < $3
GROUP BY 1, 2
UNION ALL
SELECT site_id, date_bin($4::interval, day, '2000-01-01'), sum(checks), sum(ok)
FROM check_rollup_daily
WHERE site_id = ANY($1::text[]) AND day >= $5 AND day < $2  -- the 60 days before
GROUP BY 1, 2;

-- uptime(): every window, per region and overall (sum the regions in Python):
SELECT region,
       sum(checks) FILTER (WHERE hour >= $2) AS checks_1h,  sum(ok) FILTER (WHERE hour >= $2) AS ok_1h,
       sum(checks) FILTER (WHERE hour >= $3) AS checks_24h, sum(ok) FILTER (WHERE hour >= $3) AS ok_24h,
       sum(checks) FILTER (WHERE hour >= $4) AS checks_7d,  sum(ok) FILTER (WHERE hour >= $4) AS ok_7d,
       sum(checks) AS checks_30d, sum(ok) AS ok_30d
FROM check_rollup_hourly
WHERE site_id = $1 AND hour >= $5 AND hour < $6   -- $2..$5: window_range() starts
GROUP BY region;

-- latency(): the rows of the range, merged per bucket in Python with combine_all() and
-- percentile_ms() (jsonb histograms add exactly, so no SQL percentile code):
SELECT hour, region, checks, total_sum_us, phase_sum_us, phase_count, histogram
FROM check_rollup_hourly
WHERE site_id = $1 AND hour >= $2 AND hour < $3
ORDER BY hour;

-- checks(): keyset pagination on the existing index check_history_site_time; the cursor
-- (started_at, check_id) is decode_cursor()'s:
SELECT * FROM check_history
WHERE site_id = $1 AND started_at >= $2 AND started_at < $3
  AND ($4::timestamptz IS NULL OR (started_at, check_id) < ($4, $5))
ORDER BY started_at DESC, check_id DESC
LIMIT $6 + 1;  -- one more than asked: whether a next page exists
