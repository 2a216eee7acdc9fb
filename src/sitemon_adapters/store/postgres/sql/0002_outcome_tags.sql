-- sitemon schema version 2: the outcome of each check and the site's tags.
--
-- * outcome is what the log line says (up, bad_status, regex_miss, or the error kind:
--   timeout, connect...), so SQL and Grafana can tell a 404 from a regex miss and group
--   by it. Rows already stored get it derived below, exactly as CheckResult.outcome
--   derives it. It stays nullable: a persister of the previous release still running
--   during a rolling upgrade writes NULL into check_history (and leaves site_status's
--   outcome as it was); derive it the same way when reading such rows.
--   No CHECK: new outcomes (such as a degraded verdict) must not need a migration.
-- * tags are the site's tags, sorted; '{}' for rows stored before (and from persisters
--   of the previous release). Adding a column with a constant default rewrites nothing.
-- * The UPDATE rewrites every row once (both tables): on a large history, expect this
--   migration to take as long as copying check_history.

ALTER TABLE check_history
    ADD COLUMN outcome text,
    ADD COLUMN tags    text[] NOT NULL DEFAULT '{}';

ALTER TABLE site_status
    ADD COLUMN outcome text,
    ADD COLUMN tags    text[] NOT NULL DEFAULT '{}';

UPDATE check_history SET outcome = CASE
    WHEN ok THEN 'up'
    WHEN error_kind <> 'none' THEN error_kind
    WHEN regex_matched IS FALSE THEN 'regex_miss'
    ELSE 'bad_status' END;

UPDATE site_status SET outcome = CASE
    WHEN ok THEN 'up'
    WHEN error_kind <> 'none' THEN error_kind
    WHEN regex_matched IS FALSE THEN 'regex_miss'
    ELSE 'bad_status' END;
