-- one credential per record: each row is a record with more than one.
SELECT record_id, count(*) AS credentials, string_agg(id::text, ', ' ORDER BY id) AS ids
FROM issued_credentials
GROUP BY record_id
HAVING count(*) > 1;
