-- sitemon schema version 3: incidents and the notification outbox (alerting).
-- Applied by sitemon_adapters.store.postgres.migrations inside one transaction, with the
-- search_path set to the target schema (names here are deliberately unqualified).
--
-- Choices:
-- * An incident row changes once: resolved_at goes from NULL to a time (the repository's
--   upsert never clears it, so a replayed "still open" record cannot reopen an incident).
-- * The outbox is unique by (notifier, key): the key is the receiver's idempotency key
--   (incident id + transition [+ reminder number]), the same for every notifier, so a replay
--   after a crash queues nothing twice.
-- * incident_resolved_at keeps the incident's resolved_at as it was when the notification
--   was queued: a notification reads back exactly as queued (a FIRING stays a firing).
-- * Ids, keys and notifier names are COLLATE "C": ordered like Python strings, like the
--   other adapters.
-- * The partial indexes hold only what the alerter and dispatcher look for (open
--   incidents, due notifications), so they stay small however long the history grows.

CREATE TABLE incidents (
    opened_at     timestamptz      NOT NULL,
    resolved_at   timestamptz,
    status_code   integer,
    id            text COLLATE "C" NOT NULL,
    site_id       text COLLATE "C" NOT NULL,
    url           text             NOT NULL,
    error_kind    text             NOT NULL,
    error_message text             NOT NULL,
    regions       text[]           NOT NULL,
    tags          text[]           NOT NULL,
    CONSTRAINT incidents_pkey PRIMARY KEY (id)
);

CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;
CREATE INDEX incidents_site_time ON incidents (site_id, opened_at DESC);

CREATE TABLE notifications (
    created_at           timestamptz      NOT NULL,
    not_before           timestamptz,
    incident_resolved_at timestamptz,
    attempts             integer          NOT NULL,
    id                   text COLLATE "C" NOT NULL,
    incident_id          text COLLATE "C" NOT NULL,
    notifier             text COLLATE "C" NOT NULL,
    key                  text COLLATE "C" NOT NULL,
    transition           text             NOT NULL,
    state                text             NOT NULL,
    last_error           text             NOT NULL,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_notifier_key UNIQUE (notifier, key),
    CONSTRAINT notifications_incident_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id)
        ON DELETE CASCADE,
    CONSTRAINT notifications_transition_check
        CHECK (transition IN ('firing', 'resolved', 'reminder', 'flapping')),
    CONSTRAINT notifications_state_check
        CHECK (state IN ('pending', 'held', 'delivered', 'failed', 'dropped'))
);

CREATE INDEX notifications_due ON notifications (created_at, key, notifier)
    WHERE state IN ('pending', 'held');
CREATE INDEX notifications_incident ON notifications (incident_id);
