-- worker 2 alone answered 500 (the fault was aimed at it)
SELECT worker, status, body FROM pgrace_answers WHERE (worker = 2) <> (status = 500);
