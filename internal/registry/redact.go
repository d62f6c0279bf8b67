package registry

import "log/slog"

// Identifying values redact themselves when logged with log/slog, so that a
// careless log line cannot leak them: slog calls LogValue before writing.

// LogValue implements slog.LogValuer: a card code is never logged.
func (CardCode) LogValue() slog.Value { return slog.StringValue("[card code]") }

// LogValue implements slog.LogValuer: demographics are never logged.
func (Demographics) LogValue() slog.Value { return slog.StringValue("[demographics]") }

// LogValue implements slog.LogValuer: a person is logged as nothing but the
// fact that there is one.
func (Person) LogValue() slog.Value { return slog.StringValue("[person]") }

// LogValue implements slog.LogValuer: a sealed person's bytes are not logged.
func (SealedPerson) LogValue() slog.Value { return slog.StringValue("[person]") }
