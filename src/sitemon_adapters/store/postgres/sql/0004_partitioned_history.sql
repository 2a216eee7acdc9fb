-- sitemon schema version 4: check_history partitioned by range on started_at.
--
-- At 100,000 sites a minute the history gets ~144 M rows a day. Partitions (one per day by
-- default, created ahead by the persisters, see partitions.py) let retention drop a whole
-- day at once (no DELETE, no dead tuples, no vacuum debt) and keep each index small.
--
-- * The unique key is (started_at, check_id): a unique index of a partitioned table must
--   contain the partition key. A replayed result carries its original started_at, so
--   ON CONFLICT (started_at, check_id) DO NOTHING still stores each check once.
-- * check_history_default catches rows no partition covers (clock skew, replays of records
--   older than every partition); persisters report its row count in /metrics and move
--   its rows into a partition when they create one that covers them.
-- * The existing table (with its rows) becomes the partition check_history_legacy, for
--   every started_at before the first day partition; retention deletes its old rows in
--   chunks as before and drops it whole once its last day is past the window. An empty
--   table (a new database) is simply dropped instead.
--
-- Lock profile (steps separated by "-- sitemon:step" lines, each its own transaction, so
-- no lock is held across the long parts; every step can run again after a crash):
--   1. CREATE UNIQUE INDEX CONCURRENTLY on (started_at, check_id): builds while inserts
--      and reads go on (SHARE UPDATE EXCLUSIVE), outside any transaction.
--   2. CHECK (started_at < <midnight UTC after tomorrow>) NOT VALID: a brief lock, no scan;
--      from here on rows more than a day in the future are refused until step 4 (a
--      rejected batch is retried by the persister). Rows already that far ahead are set
--      aside in check_history_upgrade_hold (found through the BRIN index).
--   3. VALIDATE CONSTRAINT: scans the table under SHARE UPDATE EXCLUSIVE, which blocks
--      neither reads nor inserts.
--   4. One short transaction, metadata only: rename the table, create the partitioned
--      parent, turn the step-1 index into the unique constraint, ATTACH the old table
--      (no scan: the validated CHECK proves the bound; no index build: its indexes match
--      the parent's), create the default partition, put the held rows back. Its ACCESS
--      EXCLUSIVE lock on the old table lasts milliseconds, whatever the table's size.
-- sitemon:step no-transaction
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS check_history_started_check
    ON @schema@.check_history (started_at, check_id);
-- sitemon:step
-- Step 1 runs outside the migration lock: when two processes migrate at once, one build
-- can lose a deadlock and leave the index INVALID, and the other's IF NOT EXISTS then
-- skips it. Here, under the lock, an invalid one is rebuilt (plainly: a rare recovery,
-- and a build still running elsewhere has finished or aborted before DROP gets its lock).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'check_history_started_check' AND NOT i.indisvalid
                 AND c.relnamespace = (SELECT oid FROM pg_namespace
                                       WHERE nspname = current_schema())) THEN
        DROP INDEX check_history_started_check;
        CREATE UNIQUE INDEX check_history_started_check ON check_history (started_at, check_id);
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS sitemon_upgrade_0004 (legacy_until timestamptz NOT NULL);
INSERT INTO sitemon_upgrade_0004
    SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '2 days'
    WHERE NOT EXISTS (SELECT 1 FROM sitemon_upgrade_0004);
CREATE TABLE IF NOT EXISTS check_history_upgrade_hold (LIKE check_history);
DO $$
DECLARE
    until timestamptz := (SELECT legacy_until FROM sitemon_upgrade_0004);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'check_history_legacy_bound'
                   AND conrelid = 'check_history'::regclass) THEN
        EXECUTE format('ALTER TABLE check_history ADD CONSTRAINT check_history_legacy_bound'
                       ' CHECK (started_at < %L) NOT VALID', until);
    END IF;
    WITH held AS (DELETE FROM check_history WHERE started_at >= until RETURNING *)
    INSERT INTO check_history_upgrade_hold SELECT * FROM held;
END $$;
-- sitemon:step
ALTER TABLE check_history VALIDATE CONSTRAINT check_history_legacy_bound;
-- sitemon:step
DO $$
DECLARE
    until timestamptz := (SELECT legacy_until FROM sitemon_upgrade_0004);
BEGIN
    ALTER TABLE check_history RENAME TO check_history_legacy;
    ALTER INDEX check_history_site_time RENAME TO check_history_legacy_site_time;
    ALTER INDEX check_history_started_brin RENAME TO check_history_legacy_started_brin;
    -- The old key on check_id alone: the new key replaces it.
    ALTER TABLE check_history_legacy DROP CONSTRAINT check_history_pkey;
    -- Step 1's index becomes a constraint (and takes that name), as ATTACH needs.
    ALTER TABLE check_history_legacy ADD CONSTRAINT check_history_legacy_started_check
        UNIQUE USING INDEX check_history_started_check;

    CREATE TABLE check_history (LIKE check_history_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (started_at);
    ALTER TABLE check_history DROP CONSTRAINT check_history_legacy_bound;
    ALTER TABLE check_history
        ADD CONSTRAINT check_history_started_check UNIQUE (started_at, check_id);
    CREATE INDEX check_history_site_time ON check_history (site_id, started_at DESC);
    CREATE INDEX check_history_started_brin ON check_history USING brin (started_at)
        WITH (autosummarize = on);

    IF EXISTS (SELECT 1 FROM check_history_legacy) THEN
        EXECUTE format('ALTER TABLE check_history ATTACH PARTITION check_history_legacy'
                       ' FOR VALUES FROM (MINVALUE) TO (%L)', until);
    ELSE
        DROP TABLE check_history_legacy;
    END IF;
    CREATE TABLE check_history_default PARTITION OF check_history DEFAULT;
    INSERT INTO check_history SELECT * FROM check_history_upgrade_hold;
    DROP TABLE check_history_upgrade_hold;
    DROP TABLE sitemon_upgrade_0004;
END $$;
