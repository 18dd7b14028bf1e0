package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the schema steps this build knows, versions 1..n; the
// schema version it supports is len(migrations).
var migrations = mustLoadMigrations(migrationFiles)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// loadMigrations reads migrations/*.sql from fsys. Files are named
// NNNN_name.sql and numbered 1, 2, 3... without gaps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	ms := make([]migration, 0, len(names))
	for i, n := range names {
		base := path.Base(n)
		num, rest, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: want a name NNNN_name.sql numbered %d", n, i+1)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	return ms, nil
}

// schemaVersion returns the highest schema version recorded in the
// database, 0 for a new (or foreign) one. It is the first statement Open
// runs on a file, so it is the one that fails for a file that is not a
// database.
func schemaVersion(ctx context.Context, c *sql.Conn) (int, error) {
	var n int
	if err := c.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'").Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT max(version) FROM schema_version").Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// migrate applies migs after version from, each in its own transaction.
func migrate(ctx context.Context, c *sql.Conn, abs string, from int, migs []migration) error {
	for _, m := range migs[from:] {
		if err := applyMigration(ctx, c, m, len(migs)); err != nil {
			return fmt.Errorf("sqlite: open %s: migrate schema to version %d (%s): %w", abs, m.version, m.name, err)
		}
	}
	return nil
}

// applyMigration applies m and records it in schema_version, atomically:
// on any error the transaction is rolled back and the schema is as before.
// BEGIN IMMEDIATE takes the write lock first, so two processes opening one
// file at once migrate it once.
func applyMigration(ctx context.Context, c *sql.Conn, m migration, latest int) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(ctx, "ROLLBACK")
		}
	}()
	v, err := schemaVersion(ctx, c)
	if err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("%w: another process upgraded it to version %d", ErrSchemaTooNew, v)
	}
	if v >= m.version { // another process got there first
		_, err = c.ExecContext(ctx, "ROLLBACK")
		return err
	}
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}
