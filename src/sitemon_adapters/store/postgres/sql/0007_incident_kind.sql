-- sitemon schema version 7: incidents of a kind (alerting's certificate warnings).
--
-- * kind: 'down' (an outage, every incident stored before) or 'certificate' (the site's
--   TLS certificate expires within its tls_expiry_warning). Each kind has its own
--   incidents and notifications; the alerter keeps at most one open per site and kind.
-- * tls_not_after: a certificate warning's certificate (NULL for an outage).
-- Both have a constant default or none: no table rewrite.

ALTER TABLE incidents
    ADD COLUMN kind          text        NOT NULL DEFAULT 'down',
    ADD COLUMN tls_not_after timestamptz,
    ADD CONSTRAINT incidents_kind_check CHECK (kind IN ('down', 'certificate'));
