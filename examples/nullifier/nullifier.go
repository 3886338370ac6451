// nullifier.go — the submission create of seed 002, in Go over pgx: a
// nullifier may be spent once (409 for a second submission), and a retry
// of a request (same idempotency key) gets the submission it created (200)
// (examples/README.md).
//
//	nullifier fixed           one transaction: key lookup, nullifier check,
//	                          insert, on a table with unique constraints; a
//	                          unique violation (23505) resolved by re-reading
//	                          the key: the caller's own request (200) or 409
//	nullifier no-constraint   the seed's before: check-then-insert in
//	                          autocommit statements, no constraints
//	                          (run it on setup-no-constraint.sql)
//	nullifier unmapped-23505  the seed's fix as written: transaction, key
//	                          lookup, constraints, but a 23505 is a 500
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"examples/worker"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

var errDuplicate = worker.Refuse(409, "duplicate nullifier")

// request is worker w's submission in iteration i: every worker plays role
// i % 3 — racers (one nullifier, a key each), retriers (one request sent N
// times) or reusers (one key reused for a nullifier each).
func request() (nullifier, key string) {
	w := os.Getenv("PGRACE_WORKER")
	switch worker.Int("PGRACE_ITERATION") % 3 {
	case 0:
		return "nf-race", "key-w" + w
	case 1:
		return "nf-retry", "key-retry"
	default:
		return "nf-reuse-w" + w, "key-reuse"
	}
}

func byKey(ctx context.Context, q worker.DB, key string) (id int64, err error) {
	err = q.QueryRow(ctx, "SELECT id FROM submissions WHERE idempotency_key = $1", key).Scan(&id)
	return id, err
}

// form is what a form has of the fix.
type form struct {
	tx        bool // the statements in one transaction
	mapUnique bool // a 23505 resolved by the key
	ownKey    bool // a nullifier held by the caller's own key is its submission
}

// submit looks the key up (a retry: its submission), checks the nullifier
// and inserts; returns the submission's id.
func (f form) submit(ctx context.Context, q worker.DB, nullifier, key string) (int64, error) {
	id, err := byKey(ctx, q, key)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	var holder string
	err = q.QueryRow(ctx, "SELECT id, coalesce(idempotency_key, '') FROM submissions WHERE nullifier = $1",
		nullifier).Scan(&id, &holder)
	switch {
	// Each statement reads its own snapshot: the caller's own request may
	// have committed since the key lookup. Its row is the caller's
	// submission, not a double spend.
	case err == nil && f.ownKey && holder == key:
		return id, nil
	case err == nil:
		return 0, errDuplicate
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, err
	}
	err = q.QueryRow(ctx, "INSERT INTO submissions (nullifier, idempotency_key) VALUES ($1, $2) RETURNING id",
		nullifier, key).Scan(&id)
	return id, err
}

func (f form) create(ctx context.Context, conn *pgx.Conn) (string, error) {
	nullifier, key := request()
	var id int64
	var err error
	if !f.tx {
		id, err = f.submit(ctx, conn, nullifier, key)
	} else {
		// BeginFunc commits when the function returns nil: the id is
		// answered only once COMMIT succeeded.
		err = conn.BeginFunc(ctx, func(tx pgx.Tx) (err error) {
			id, err = f.submit(ctx, tx, nullifier, key)
			return err
		})
	}
	var pgErr *pgconn.PgError
	if f.mapUnique && errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// A concurrent insert won (it is committed now): the caller's own
		// request when it holds the key, else a double spend.
		id, err = byKey(ctx, conn, key)
		if errors.Is(err, pgx.ErrNoRows) {
			err = errDuplicate
		}
	}
	return fmt.Sprintf("id=%d", id), err
}

func main() {
	worker.Run("nullifier", 500, map[string]worker.Op{
		"fixed":          form{tx: true, mapUnique: true, ownKey: true}.create,
		"no-constraint":  form{}.create,
		"unmapped-23505": form{tx: true}.create,
	})
}
