-- What each caller was told agrees with the database (the seed's N=8 test:
-- one 200 with the record's credential, the rest 409; 403 only for an
-- inactive identity). Each row is an answer, or a credential, that the
-- database contradicts. Answers come from pgrace_answers (examples/README.md);
-- an answer whose outcome is unknown (no answer, or a fault was injected
-- into its statements) excuses what it may have done.
WITH a AS (
    SELECT worker, status, body, faulted OR status IS NULL AS unknown,
           substring(body FROM 'credential=(\d+)')::bigint AS credential
    FROM pgrace_answers
), rec AS (
    SELECT r.is_verified, r.credential_id, i.active
    FROM attestation_records r JOIN identities i ON i.id = r.identity_id
    WHERE r.id = 1
), oks AS (
    SELECT count(*) AS n FROM a WHERE status = 200
), unknown AS (
    SELECT count(*) AS n FROM a WHERE unknown
)
SELECT a.worker, a.status || ' ' || a.body AS answer, v.why
FROM a, rec, oks, LATERAL (VALUES
    (CASE WHEN a.status = 200 AND a.credential IS DISTINCT FROM rec.credential_id
          THEN '200, but its credential is not the record''s' END),
    (CASE WHEN a.status = 200 AND oks.n > 1 THEN oks.n || ' verifies got 200' END),
    (CASE WHEN a.status = 409 AND NOT rec.is_verified AND rec.credential_id IS NULL
          THEN '409, but the record is neither verified nor holds a credential' END),
    (CASE WHEN a.status = 403 AND rec.active THEN '403, but the identity is active' END),
    (CASE WHEN a.status NOT IN (200, 403, 409) AND NOT a.unknown
          THEN 'neither 200 nor refused, and no fault was injected' END)
) AS v(why)
WHERE v.why IS NOT NULL
UNION ALL
SELECT NULL, NULL, 'credential ' || c.id || ' was minted, but no caller was given it'
FROM issued_credentials c, unknown
WHERE unknown.n = 0 AND NOT EXISTS (SELECT 1 FROM a WHERE a.status = 200 AND a.credential = c.id)
UNION ALL
SELECT NULL, NULL, 'no verify got 200, yet the identity is active'
FROM rec, oks, unknown
WHERE rec.active AND oks.n = 0 AND unknown.n = 0;
