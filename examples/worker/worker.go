// Package worker is the Go programs' side of pgrace exec's worker contract
// (examples/README.md): the form from the first argument, a connection from
// the standard environment, one call, its answer as the last line of
// stdout, exit 0 once answered — 1 when the program could not connect, 2
// for a form it does not know.
package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

// Refusal is an answer other than 200 that the operation gives on purpose
// (409 already verified, 404 not found, ...).
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Refuse returns the refusal status, message.
func Refuse(status int, message string) error { return &Refusal{status, message} }

// DB is what a statement runs on: the connection (autocommit) or a
// transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...interface{}) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...interface{}) pgx.Row
}

// Op makes one call in one form: the body of its 200 answer, or an error
// (a *Refusal, or the database's).
type Op func(ctx context.Context, conn *pgx.Conn) (string, error)

// Int is the environment variable name as a number (0 when unset).
func Int(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// Run runs the form os.Args names once and prints its answer; a database
// or connection error answers dbStatus, with the SQLSTATE when there is one.
func Run(name string, dbStatus int, forms map[string]Op) {
	var op Op
	if len(os.Args) == 2 {
		op = forms[os.Args[1]]
	}
	if op == nil {
		names := make([]string, 0, len(forms))
		for form := range forms {
			names = append(names, form)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: %s %s\n", name, strings.Join(names, "|"))
		os.Exit(2)
	}
	ctx := context.Background()
	// An empty DATABASE_URL leaves pgx to the PG* variables.
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: connect: %v\n", name, err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	body, err := op(ctx, conn)
	var refusal *Refusal
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		fmt.Println("200", body)
	case errors.As(err, &refusal):
		fmt.Println(refusal.Status, refusal.Message)
	case errors.As(err, &pgErr):
		fmt.Println(dbStatus, pgErr.Code, pgErr.Message)
	default:
		fmt.Println(dbStatus, err)
	}
}
