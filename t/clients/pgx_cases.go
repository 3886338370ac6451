// pgx_cases.go — the driver table's cases for pgx v4 (t/clients/README.md).
// Built from Debian's packaged sources: GO111MODULE=off GOPATH=/usr/share/gocode.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

var ctx = context.Background()

func connect() *pgx.Conn {
	dsn := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", os.Getenv("PGHOST"),
		os.Getenv("PGPORT"), os.Getenv("PGUSER"), os.Getenv("PGDATABASE"))
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	return c
}

// raised is what the driver returned: a *pgconn.PgError with its Code, or
// the error's type (and whether pgconn says the connection is gone).
func raised(err error) string {
	if err == nil {
		return "none"
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return "*pgconn.PgError/" + pg.Code
	}
	what := fmt.Sprintf("%T", err)
	if strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "conn closed") {
		what += "(" + err.Error() + ")"
	}
	return what
}

func count(c *pgx.Conn, where string) int {
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pgf_rows WHERE "+where).Scan(&n); err != nil {
		fmt.Fprintln(os.Stderr, "count:", err)
		os.Exit(1)
	}
	return n
}

func exec(c *pgx.Conn, sql string) error {
	_, err := c.Exec(ctx, sql)
	return err
}

func commit(row int) string {
	k := connect()
	tx, err := k.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, fmt.Sprintf("INSERT INTO pgf_rows VALUES (%d)", row))
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	return raised(err)
}

func main() {
	c := connect() // connection 1
	if err := exec(c, "CREATE TABLE IF NOT EXISTS pgf_rows (id int PRIMARY KEY)"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, tag := range []string{"ser", "dl", "uv"} {
		var one int
		fmt.Printf("%s=%s\n", tag, raised(c.QueryRow(ctx, "SELECT 1 /* pgf-"+tag+" */").Scan(&one)))
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		os.Exit(1)
	}
	_, _ = tx.Exec(ctx, "SELECT 1")
	_, err = tx.Exec(ctx, "SELECT 1 /* pgf-ser */")
	fmt.Printf("intx=%s\n", raised(err))
	_, err = tx.Exec(ctx, "SELECT 2")
	fmt.Printf("next=%s\n", raised(err))
	_ = tx.Rollback(ctx)
	// SendBatch: every query's Bind and Execute, one Sync for them all.
	b := &pgx.Batch{}
	for id := 10; id <= 12; id++ {
		b.Queue("INSERT INTO pgf_rows VALUES ($1) /* pgf-pipe */", id)
	}
	br := c.SendBatch(ctx, b)
	var first error
	for i := 0; i < 3; i++ {
		if _, err := br.Exec(); err != nil && first == nil {
			first = err
		}
	}
	_ = br.Close()
	fmt.Printf("pipeline=%s\n", raised(first))
	fmt.Printf("pipeline_rows=%d\n", count(c, "id BETWEEN 10 AND 12"))
	fmt.Printf("commit=%s\n", commit(20)) // connection 2
	v := connect()                        // connection 3
	fmt.Printf("commit_rows=%d\n", count(v, "id = 20"))
	d := connect() // connection 4
	var one int
	fmt.Printf("drop=%s\n", raised(d.QueryRow(ctx, "SELECT 1 /* pgf-drop */").Scan(&one)))
	fmt.Printf("ambiguous=%s\n", commit(30)) // connection 5
	w := connect()                           // connection 6
	fmt.Printf("ambiguous_rows=%d\n", count(w, "id = 30"))
	m := connect() // connection 7
	// Exec without arguments: one simple Query of three statements.
	fmt.Printf("multi=%s\n", raised(exec(m, "BEGIN; INSERT INTO pgf_rows VALUES (40); COMMIT")))
	x := connect() // connection 8
	fmt.Printf("multi_rows=%d\n", count(x, "id = 40"))
}
