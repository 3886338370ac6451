-- t/86-exec.t's schema: a counter row, and a log of arrivals.
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO t VALUES (1, 0);
CREATE TABLE log (w int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
