-- credential <=> verified <=> linked <=> identity promoted: a verify's three
-- writes all landed or none did. Each row is a record where they disagree.
SELECT r.id AS record_id, c.n AS credentials, r.is_verified, r.credential_id, i.trust_level
FROM attestation_records r
JOIN identities i ON i.id = r.identity_id
CROSS JOIN LATERAL (SELECT count(*) AS n FROM issued_credentials c WHERE c.record_id = r.id) c
WHERE CASE WHEN c.n > 0
           THEN NOT (r.is_verified AND i.trust_level >= 2
                     AND EXISTS (SELECT 1 FROM issued_credentials l
                                 WHERE l.id = r.credential_id AND l.record_id = r.id))
           ELSE r.is_verified OR r.credential_id IS NOT NULL OR i.trust_level >= 2
      END;
