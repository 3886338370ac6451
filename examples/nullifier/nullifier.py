#!/usr/bin/python3
"""nullifier.py — the submission create of seed 002, in Python over asyncpg: a
nullifier may be spent once (409 for a second submission), and a retry of a
request (same idempotency key) gets the submission it created (200)
(examples/README.md).

  nullifier.py fixed           one transaction: key lookup, nullifier check,
                               insert, on a table with unique constraints; a
                               unique violation (23505) resolved by re-reading
                               the key: the caller's own request (200) or 409
  nullifier.py no-constraint   the seed's before: check-then-insert in
                               autocommit statements, no constraints
                               (run it on setup-no-constraint.sql)
  nullifier.py unmapped-23505  the seed's fix as written: transaction, key
                               lookup, constraints, but a 23505 is a 500
"""
import os
import sys

import asyncpg

sys.path.insert(1, os.path.join(sys.path[0], "..", "worker"))
from worker import Refused, int_env, run  # noqa: E402 (the path above finds it)


def duplicate():
    return Refused(409, "duplicate nullifier")


def request():
    """Worker w's submission in iteration i: every worker plays role i % 3 —
    racers (one nullifier, a key each), retriers (one request sent N times)
    or reusers (one key reused for a nullifier each)."""
    w = int_env("PGRACE_WORKER")
    return {0: ("nf-race", f"key-w{w}"),
            1: ("nf-retry", "key-retry"),
            2: (f"nf-reuse-w{w}", "key-reuse")}[int_env("PGRACE_ITERATION") % 3]


async def by_key(db, key):
    return await db.fetchval("SELECT id FROM submissions WHERE idempotency_key = $1", key)


async def submit(db, own_key):
    """Looks the key up (a retry: its submission), checks the nullifier and
    inserts; returns the submission's id."""
    nullifier, key = request()
    mine = await by_key(db, key)
    if mine is not None:
        return mine
    holder = await db.fetchrow(
        "SELECT id, coalesce(idempotency_key, '') AS key FROM submissions WHERE nullifier = $1", nullifier)
    if holder is not None:
        # Each statement reads its own snapshot: the caller's own request may
        # have committed since the key lookup. Its row is the caller's
        # submission, not a double spend.
        if own_key and holder["key"] == key:
            return holder["id"]
        raise duplicate()
    return await db.fetchval(
        "INSERT INTO submissions (nullifier, idempotency_key) VALUES ($1, $2) RETURNING id", nullifier, key)


async def in_transaction(db, own_key):
    # The block commits on the way out: the id is answered only once COMMIT
    # succeeded.
    async with db.transaction():
        return await submit(db, own_key)


async def create(db):
    """The fixed form: the submission in one transaction, a unique violation
    resolved by the key."""
    try:
        return await in_transaction(db, own_key=True)
    except asyncpg.UniqueViolationError:
        # A concurrent insert won (it is committed now): the caller's own
        # request when it holds the key, else a double spend.
        mine = await by_key(db, request()[1])
        if mine is None:
            raise duplicate() from None
        return mine


async def answer_id(id_):
    return f"id={await id_}"


run("nullifier.py", 500, {
    "fixed": lambda db: answer_id(create(db)),
    "no-constraint": lambda db: answer_id(submit(db, own_key=False)),
    "unmapped-23505": lambda db: answer_id(in_transaction(db, own_key=False)),
})
