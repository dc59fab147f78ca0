package handlers

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
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
	bw := bufio.NewWriterSize(w, 32<<10)
	line := appendCSVRecord(nil, csvHeader)
	if _, err := bw.Write(line); err != nil {
		a.endStream(c, err)
		return
	}
	rec := make([]string, 0, len(csvHeader))
	err := a.store.ExportFeedback(c.Request.Context(), b.ID, func(row *store.ExportRow) error {
		rec = csvRecord(row, rec)
		line = appendCSVRecord(line[:0], rec)
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	a.endStream(c, err)
}

// appendCSVRecord appends one RFC 4180 record: fields quoted when they hold
// a quote, comma, CR or LF (quotes doubled, line breaks kept as they are),
// records ended by CRLF. encoding/csv drops a lone CR in CRLF mode; this
// loses nothing.
func appendCSVRecord(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !strings.ContainsAny(f, "\",\r\n") && (f == "" || (f[0] != ' ' && f[len(f)-1] != ' ')) {
			dst = append(dst, f...)
			continue
		}
		dst = append(dst, '"')
		for j := 0; j < len(f); j++ {
			if f[j] == '"' {
				dst = append(dst, '"')
			}
			dst = append(dst, f[j])
		}
		dst = append(dst, '"')
	}
	return append(dst, '\r', '\n')
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
