-- every 200 counted once: a lost update leaves the counter short
SELECT v, (SELECT count(*) FROM pgrace_answers WHERE status = 200) AS oks
FROM t WHERE id = 1 AND v <> (SELECT count(*) FROM pgrace_answers WHERE status = 200);
