package handlers

import (
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
)

// BenchmarkCSVRecord encodes one feedback item as a CSV row, as the export
// does for each of a build's items (the database read is not included).
// rows/s is the encoder's ceiling for the export.
func BenchmarkCSVRecord(b *testing.B) {
	sev, change, dup := "high", int64(1234), int64(987654)
	row := &store.ExportRow{ChangeKey: "SF-1042", Feedback: models.Feedback{
		ID: 987_654, BuildID: 3, ChangeID: &change, TesterID: 4321, TesterName: "Noor Haddad", Kind: models.KindBug,
		Severity: &sev, Title: "Crash when opening the inventory after the level 3 cutscene",
		Body: "Steps: open the inventory right after the level-3 cutscene ends; the game freezes for about two seconds, " +
			"then crashes to desktop. Happens 3 of 5 tries on this build. Expected: \"inventory opens\", as before.\nVerified on two machines.",
		Platform:    models.Platform{OS: "Windows 11", Device: "RTX 3060 laptop", ClientVersion: "1.0.0"},
		Status:      "acknowledged",
		DuplicateOf: &dup, CommentCount: 2, CreatedAt: time.Date(2026, 11, 20, 14, 3, 9, 0, time.UTC),
	}}
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		line = appendCSVRow(line[:0], row)
	}
	b.SetBytes(int64(len(line)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
