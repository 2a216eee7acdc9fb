-- sitemon schema version 5: the fields of check result schema 3.
--
-- * tls_not_after / tls_version / tls_issuer: the server certificate of a TLS check (also
--   of a handshake that failed on it, when it could be read) and the negotiated version.
-- * body_truncated: the body was over max_body_bytes; the check was judged on the part read.
-- * degraded: healthy but slower than the site's degraded_after (outcome 'degraded').
-- * failed_condition: the condition beyond status and regex that failed (too_slow,
--   json_mismatch, header_mismatch, answer_mismatch), the outcome of such a check.
-- * answers: what a DNS check resolved, sorted.
-- Columns with constant defaults or none: no table rewrite. Rows stored before read as
-- "no certificate, not truncated, not degraded", which is what their checks recorded.

ALTER TABLE check_history
    ADD COLUMN tls_not_after    timestamptz,
    ADD COLUMN tls_version      text,
    ADD COLUMN tls_issuer       text,
    ADD COLUMN body_truncated   boolean NOT NULL DEFAULT false,
    ADD COLUMN degraded         boolean NOT NULL DEFAULT false,
    ADD COLUMN failed_condition text,
    ADD COLUMN answers          text[]  NOT NULL DEFAULT '{}';

ALTER TABLE site_status
    ADD COLUMN tls_not_after    timestamptz,
    ADD COLUMN tls_version      text,
    ADD COLUMN tls_issuer       text,
    ADD COLUMN body_truncated   boolean NOT NULL DEFAULT false,
    ADD COLUMN degraded         boolean NOT NULL DEFAULT false,
    ADD COLUMN failed_condition text,
    ADD COLUMN answers          text[]  NOT NULL DEFAULT '{}';
