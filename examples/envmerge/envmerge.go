// envmerge.go — PATCH /stacks/:slug/env of seed 003, in Go over pgx: merge
// a delta into a stack's env (a jsonb object; an empty value deletes its
// key), 64 KiB cap, no change to a stack being torn down (examples/README.md).
//
//	envmerge fixed   one transaction (#235 + #238): SET LOCAL lock_timeout,
//	                 SELECT status, env ... FOR UPDATE, refuse a deleting
//	                 stack under the lock, merge here, the cap before the
//	                 write, write, commit; the count counts real upserts
//	envmerge rmw     before #235: the handler's status pre-read, an unlocked
//	                 env read, merge here, a blind overwrite (concurrent
//	                 merges lose each other's keys); count len(delta) - deletes
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"examples/worker"

	"github.com/jackc/pgx/v4"
)

const (
	slug   = "stack"
	envCap = 64 << 10 // bytes of the env as compact JSON
)

var (
	errNotFound = worker.Refuse(404, "stack not found")
	errDeleting = worker.Refuse(409, "stack is being deleted")
)

// delta is worker w's PATCH body: sets k<w>, deletes old<w> (present) and
// gone<w> (never present). Near the cap (every 5th iteration) values are
// big, so that about half of the merges fit.
func delta() map[string]string {
	w, n := worker.Int("PGRACE_WORKER"), worker.Int("PGRACE_WORKERS")
	value := fmt.Sprintf("v%d-", w)
	if worker.Int("PGRACE_ITERATION")%5 == 0 && n > 0 {
		size := envCap / (4 * n)
		if size > 2048 {
			size = 2048
		}
		value += strings.Repeat("x", size-len(value))
	}
	return map[string]string{fmt.Sprintf("k%d", w): value, fmt.Sprintf("old%d", w): "", fmt.Sprintf("gone%d", w): ""}
}

// merge applies d to env and returns its counts: the keys set and the
// deleted keys that were present (honest), or len(d) - deletes as before #238.
func merge(env, d map[string]string, honest bool) string {
	set, deleted := 0, 0
	for k, v := range d {
		if v != "" {
			env[k] = v
			set++
		} else if _, ok := env[k]; ok {
			delete(env, k)
			deleted++
		}
	}
	if !honest {
		set = len(d) - deleted
	}
	return fmt.Sprintf("set=%d deleted=%d", set, deleted)
}

// readEnv reads the stack's env with sql; refuses a stack that is gone
// (404) or, with checkStatus, being deleted (409).
func readEnv(ctx context.Context, q worker.DB, sql string, checkStatus bool) (map[string]string, error) {
	var status string
	var env map[string]string
	err := q.QueryRow(ctx, sql, slug).Scan(&status, &env)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, errNotFound
	case err != nil:
		return nil, err
	case checkStatus && status == "deleting":
		return nil, errDeleting
	}
	return env, nil
}

// write checks the cap, then overwrites the env.
func write(ctx context.Context, q worker.DB, env map[string]string) error {
	text, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if len(text) > envCap {
		return worker.Refuse(413, "env too large")
	}
	tag, err := q.Exec(ctx, "UPDATE stacks SET env = $2 WHERE slug = $1", slug, string(text))
	if err == nil && tag.RowsAffected() == 0 {
		return errNotFound
	}
	return err
}

func mergeFixed(ctx context.Context, conn *pgx.Conn) (counts string, err error) {
	// BeginFunc commits when the function returns nil: the counts are
	// answered only once COMMIT succeeded.
	err = conn.BeginFunc(ctx, func(tx pgx.Tx) error {
		// First: a merge queued behind a long-held row lock fails fast (503).
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '3s'"); err != nil {
			return err
		}
		env, err := readEnv(ctx, tx, "SELECT status, env FROM stacks WHERE slug = $1 FOR UPDATE", true)
		if err != nil {
			return err
		}
		counts = merge(env, delta(), true)
		return write(ctx, tx, env)
	})
	return counts, err
}

func mergeRMW(ctx context.Context, conn *pgx.Conn) (string, error) {
	var status string
	err := conn.QueryRow(ctx, "SELECT status FROM stacks WHERE slug = $1", slug).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", errNotFound
	case err != nil:
		return "", err
	case status == "deleting":
		return "", errDeleting
	}
	env, err := readEnv(ctx, conn, "SELECT status, env FROM stacks WHERE slug = $1", false)
	if err != nil {
		return "", err
	}
	counts := merge(env, delta(), false)
	return counts, write(ctx, conn, env)
}

func main() {
	worker.Run("envmerge", 503, map[string]worker.Op{"fixed": mergeFixed, "rmw": mergeRMW})
}
