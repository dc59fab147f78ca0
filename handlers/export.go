package handlers

import (
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"playgate/store"
)

var csvHeader = []string{"id", "created_at", "kind", "severity", "status", "title", "body", "change_id", "change_key",
	"tester_id", "tester_name", "platform_os", "platform_device", "platform_client_version", "duplicate_of",
	"comment_count", "attachment_count"}

// csvCell neutralises spreadsheet formulas: a cell starting with = + - @,
// a tab or a carriage return gets a leading apostrophe.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// csvRecord is one feedback item as a CSV row.
func csvRecord(row *store.ExportRow, rec []string) []string {
	sev := ""
	if row.Severity != nil {
		sev = *row.Severity
	}
	rec = append(rec[:0], strconv.FormatInt(row.ID, 10), row.CreatedAt.UTC().Format(time.RFC3339), row.Kind, sev, row.Status,
		csvCell(row.Title), csvCell(row.Body), optInt(row.ChangeID), csvCell(row.ChangeKey), strconv.FormatInt(row.TesterID, 10),
		csvCell(row.TesterName), csvCell(row.Platform.OS), csvCell(row.Platform.Device), csvCell(row.Platform.ClientVersion),
		optInt(row.DuplicateOf), strconv.Itoa(row.CommentCount), strconv.Itoa(row.AttachmentCount))
	return rec
}

// exportFeedback streams every item of a build as CSV (RFC 4180, UTF-8) or,
// with ?format=json, as JSON lines; memory stays flat at any size.
func (a *API) exportFeedback(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "csv")
	if format != "csv" && format != "json" {
		invalid(c, map[string]string{"format": "must be csv or json"})
		return
	}
	name := "playgate-build-" + strconv.FormatInt(b.ID, 10) + "-feedback"
	w := c.Writer
	if format == "json" {
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.jsonl"`)
		enc := json.NewEncoder(w)
		err := a.store.ExportFeedback(c.Request.Context(), b.ID, func(row *store.ExportRow) error { return enc.Encode(row) })
		a.endStream(c, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		a.endStream(c, err)
		return
	}
	rec := make([]string, 0, len(csvHeader))
	err := a.store.ExportFeedback(c.Request.Context(), b.ID, func(row *store.ExportRow) error {
		rec = csvRecord(row, rec)
		return cw.Write(rec)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	a.endStream(c, err)
}

// endStream reports an error in a stream already under way: the status is
// sent, so the log is the only place left for it.
func (a *API) endStream(c *gin.Context, err error) {
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		a.answer(c, err)
		return
	}
	_ = c.Error(err)
}
