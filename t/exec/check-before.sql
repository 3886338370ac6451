-- worker 1 logged the counter before worker 2's increment: it ran first
SELECT w AS counter_seen FROM log WHERE w = 0;
