// attestation.go — the attestation verify of seed 000, in Go over pgx:
// issue a credential, promote the identity, mark the record verified and
// link the credential (examples/README.md).
//
//	attestation fixed     one transaction: SELECT ... FOR UPDATE on the record
//	                      first, the guard (verified or a linked credential)
//	                      re-checked under the lock, the identity read inside,
//	                      three writes, the credential handed out after COMMIT
//	attestation no-lock   the same transaction without FOR UPDATE
//	attestation no-tx     three autocommit writes behind an is_verified-only guard
package main

import (
	"context"
	"errors"
	"fmt"

	"examples/worker"

	"github.com/jackc/pgx/v4"
)

const (
	recordID = 1
	guardSQL = "SELECT is_verified, credential_id IS NOT NULL, identity_id FROM attestation_records WHERE id = $1"
)

// guard reads the record and refuses one already verified (or, with
// credential, holding a linked credential). Returns the record's identity.
func guard(ctx context.Context, q worker.DB, sql string, credential bool) (int64, error) {
	var verified, linked bool
	var identity int64
	err := q.QueryRow(ctx, sql, recordID).Scan(&verified, &linked, &identity)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, worker.Refuse(404, "record not found")
	case err != nil:
		return 0, err
	case verified || (credential && linked):
		return 0, worker.Refuse(409, "already verified")
	}
	return identity, nil
}

// writes checks the identity, then makes the three writes; returns the
// new credential's id.
func writes(ctx context.Context, q worker.DB, identity int64) (int64, error) {
	var active bool
	if err := q.QueryRow(ctx, "SELECT active FROM identities WHERE id = $1", identity).Scan(&active); err != nil {
		return 0, err
	}
	if !active {
		return 0, worker.Refuse(403, "identity inactive")
	}
	token := fmt.Sprintf("tok-%d-%d", worker.Int("PGRACE_ITERATION"), worker.Int("PGRACE_WORKER"))
	var credential int64
	err := q.QueryRow(ctx, "INSERT INTO issued_credentials (identity_id, record_id, token) VALUES ($1, $2, $3) RETURNING id",
		identity, recordID, token).Scan(&credential)
	if err != nil {
		return 0, err
	}
	if _, err := q.Exec(ctx, "UPDATE identities SET trust_level = GREATEST(trust_level, 2) WHERE id = $1", identity); err != nil {
		return 0, err
	}
	_, err = q.Exec(ctx, "UPDATE attestation_records SET is_verified = true, credential_id = $2 WHERE id = $1",
		recordID, credential)
	return credential, err
}

// form is what a form has of the fix.
type form struct {
	tx, lock, guardCredential bool
}

func (f form) verify(ctx context.Context, conn *pgx.Conn) (string, error) {
	// Fast-fail before the transaction (no-tx: its only guard, on
	// is_verified alone); the guard under the lock is the one that counts.
	identity, err := guard(ctx, conn, guardSQL, f.guardCredential)
	if err != nil {
		return "", err
	}
	var credential int64
	if !f.tx {
		credential, err = writes(ctx, conn, identity)
	} else {
		locking := guardSQL
		if f.lock {
			locking += " FOR UPDATE"
		}
		// BeginFunc commits when the function returns nil: the credential
		// is handed out only once COMMIT succeeded.
		err = conn.BeginFunc(ctx, func(tx pgx.Tx) error {
			identity, err := guard(ctx, tx, locking, true)
			if err == nil {
				credential, err = writes(ctx, tx, identity)
			}
			return err
		})
	}
	return fmt.Sprintf("credential=%d", credential), err
}

func main() {
	worker.Run("attestation", 500, map[string]worker.Op{
		"fixed":   form{tx: true, lock: true, guardCredential: true}.verify,
		"no-lock": form{tx: true, guardCredential: true}.verify,
		"no-tx":   form{}.verify,
	})
}
