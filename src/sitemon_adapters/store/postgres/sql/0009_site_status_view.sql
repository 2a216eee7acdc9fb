-- sitemon schema version 9: site_status becomes a view over site_region_status.
--
-- The newest result of a site is the newest of its regions' newest results (both tables
-- kept the same guard: a later (started_at, check_id) wins), so since version 6 every
-- result was written twice as "latest". As a view, a result costs three row writes
-- (history, its region's latest, its hourly rollup) instead of four: the persister's
-- PostgreSQL CPU per result falls by about a quarter (BENCHMARKS.md, "Rollups").
-- Readers (README queries, dashboards, `sitemon-run status`, LATEST_STATUS_SQL) read the
-- same columns from the same name.
--
-- Rolling upgrade: a persister of an earlier release still writes site_status; once this
-- commits its save fails, it exits and Kafka hands its batch to an upgraded persister
-- (nothing is lost, nothing is stored twice), as with version 4. Upgrade persisters
-- together, or expect the old ones to exit.

-- Anything site_status knows that site_region_status does not (a result saved by a
-- persister older than version 6 after version 6 was applied) moves over first.
DELETE FROM site_region_status AS r
USING site_status AS s
WHERE r.site_id = s.site_id AND r.region = s.region
  AND (s.started_at, s.check_id) > (r.started_at, r.check_id);
INSERT INTO site_region_status
SELECT * FROM site_status AS s
WHERE NOT EXISTS (
    SELECT 1 FROM site_region_status AS r WHERE r.site_id = s.site_id AND r.region = s.region
);

DROP TABLE site_status;

-- Same ordering as the persister's guard (sitemon_core.ordering): the latest started_at,
-- then the larger check_id.
CREATE VIEW site_status AS
SELECT DISTINCT ON (site_id) * FROM site_region_status
ORDER BY site_id, started_at DESC, check_id DESC;
