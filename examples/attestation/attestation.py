#!/usr/bin/python3
"""attestation.py — the attestation verify of seed 000, in Python over asyncpg:
issue a credential, promote the identity, mark the record verified and link
the credential (examples/README.md).

  attestation.py fixed     one transaction: SELECT ... FOR UPDATE on the record
                           first, the guard (verified or a linked credential)
                           re-checked under the lock, the identity read inside,
                           three writes, the credential handed out after COMMIT
  attestation.py no-lock   the same transaction without FOR UPDATE
  attestation.py no-tx     three autocommit writes behind an is_verified-only guard
"""
import os
import sys

sys.path.insert(1, os.path.join(sys.path[0], "..", "worker"))
from worker import Refused, int_env, run  # noqa: E402 (the path above finds it)

RECORD_ID = 1
GUARD = ("SELECT is_verified, credential_id IS NOT NULL AS linked, identity_id "
         "FROM attestation_records WHERE id = $1")


async def guard(db, sql, credential):
    """Reads the record; refuses it when verified (or, with credential, when
    it holds a linked credential). Returns its identity."""
    record = await db.fetchrow(sql, RECORD_ID)
    if record is None:
        raise Refused(404, "record not found")
    if record["is_verified"] or (credential and record["linked"]):
        raise Refused(409, "already verified")
    return record["identity_id"]


async def writes(db, identity):
    """Checks the identity, then makes the three writes; returns the credential."""
    if not await db.fetchval("SELECT active FROM identities WHERE id = $1", identity):
        raise Refused(403, "identity inactive")
    token = f"tok-{int_env('PGRACE_ITERATION')}-{int_env('PGRACE_WORKER')}"
    credential = await db.fetchval(
        "INSERT INTO issued_credentials (identity_id, record_id, token) VALUES ($1, $2, $3) RETURNING id",
        identity, RECORD_ID, token)
    await db.execute("UPDATE identities SET trust_level = GREATEST(trust_level, 2) WHERE id = $1", identity)
    await db.execute("UPDATE attestation_records SET is_verified = true, credential_id = $2 WHERE id = $1",
                     RECORD_ID, credential)
    return credential


async def verify(db, tx, lock):
    # Fast-fail before the transaction (no-tx: its only guard, on is_verified
    # alone); the guard under the lock is the one that counts.
    identity = await guard(db, GUARD, credential=tx)
    if not tx:
        return f"credential={await writes(db, identity)}"
    # The block commits on the way out: the credential is handed out only
    # once COMMIT succeeded.
    async with db.transaction():
        credential = await writes(db, await guard(db, GUARD + " FOR UPDATE" if lock else GUARD, credential=True))
    return f"credential={credential}"


run("attestation.py", 500, {
    "fixed": lambda db: verify(db, tx=True, lock=True),
    "no-lock": lambda db: verify(db, tx=True, lock=False),
    "no-tx": lambda db: verify(db, tx=False, lock=False),
})
