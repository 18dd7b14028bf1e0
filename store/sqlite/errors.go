package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shopchat/chat"
)

func notFound(kind, id string) error {
	return fmt.Errorf("sqlite: %s %q: %w", kind, id, chat.ErrNotFound)
}

func conflict(kind, id, why string) error {
	return fmt.Errorf("sqlite: %s %q: %s: %w", kind, id, why, chat.ErrConflict)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), chat.ErrInvalid)
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation, on
// column (table.column as SQLite names it) if column is not empty.
func isUnique(err error, column string) bool {
	switch code(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return column == "" || strings.Contains(err.Error(), column)
	}
	return false
}

// dbErr wraps an unexpected error of operation op. Expected failures (no
// row, a constraint the caller broke) are turned into the chat sentinels by
// the methods themselves, with messages that name the record and never
// carry SQL; what reaches dbErr is an I/O, lock or internal failure, which
// keeps SQLite's message for the operator's logs.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, chat.ErrNotFound) || errors.Is(err, chat.ErrConflict) || errors.Is(err, chat.ErrInvalid) ||
		errors.Is(err, chat.ErrCapacity) || errors.Is(err, chat.ErrClosed) {
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") ||
		strings.Contains(err.Error(), "statement is closed") {
		// Close ran while the call was in flight.
		return errClosed
	}
	if isUnique(err, "") {
		// A constraint the explicit checks did not foresee.
		return fmt.Errorf("sqlite: %s: already exists: %w", op, chat.ErrConflict)
	}
	if code(err) == sqlite3.SQLITE_CONSTRAINT_CHECK {
		// A value the schema refuses (an undefined kind from a caller
		// that bypassed chat.Checked).
		return fmt.Errorf("sqlite: %s: value not storable: %w", op, chat.ErrInvalid)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
