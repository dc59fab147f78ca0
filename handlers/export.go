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

// appendCSVRow appends one feedback item as a CSV record (appendCSVRecord),
// its fields in csvHeader's order, without making a string per field.
func appendCSVRow(dst []byte, row *store.ExportRow) []byte {
	dst = strconv.AppendInt(dst, row.ID, 10)
	dst = append(dst, ',')
	dst = row.CreatedAt.UTC().AppendFormat(dst, time.RFC3339)
	dst = append(dst, ',')
	dst = appendCSVField(dst, row.Kind)
	dst = append(dst, ',')
	if row.Severity != nil {
		dst = appendCSVField(dst, *row.Severity)
	}
	dst = append(dst, ',')
	dst = appendCSVField(dst, row.Status)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.Title)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.Body)
	dst = append(dst, ',')
	dst = appendOptInt(dst, row.ChangeID)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.ChangeKey)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, row.TesterID, 10)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.TesterName)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.Platform.OS)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.Platform.Device)
	dst = append(dst, ',')
	dst = appendCSVCell(dst, row.Platform.ClientVersion)
	dst = append(dst, ',')
	dst = appendOptInt(dst, row.DuplicateOf)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(row.CommentCount), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(row.AttachmentCount), 10)
	return append(dst, '\r', '\n')
}

func appendOptInt(dst []byte, p *int64) []byte {
	if p == nil {
		return dst
	}
	return strconv.AppendInt(dst, *p, 10)
}

// appendCSVCell appends a text cell, neutralising spreadsheet formulas: a
// cell starting with = + - @, a tab or a carriage return gets a leading
// apostrophe.
func appendCSVCell(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		// The apostrophe comes first, so only a trailing space counts.
		if !csvNeedsQuotes(s) && s[len(s)-1] != ' ' {
			return append(append(dst, '\''), s...)
		}
		return appendQuoted(append(dst, '"', '\''), s)
	}
	return appendCSVField(dst, s)
}

// appendCSVField appends one RFC 4180 field: quoted when it holds a quote,
// comma, CR or LF or starts or ends with a space (quotes doubled, line
// breaks kept as they are).
func appendCSVField(dst []byte, f string) []byte {
	if !csvNeedsQuotes(f) && (f == "" || (f[0] != ' ' && f[len(f)-1] != ' ')) {
		return append(dst, f...)
	}
	return appendQuoted(append(dst, '"'), f)
}

// csvNeedsQuotes tells whether f holds a quote, comma, CR or LF.
func csvNeedsQuotes(f string) bool {
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '"', ',', '\r', '\n':
			return true
		}
	}
	return false
}

// appendQuoted appends f with its quotes doubled and the closing quote.
func appendQuoted(dst []byte, f string) []byte {
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		dst = append(dst, f[:i+1]...)
		dst = append(dst, '"')
		f = f[i+1:]
	}
	dst = append(dst, f...)
	return append(dst, '"')
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
	err := a.store.ExportFeedback(c.Request.Context(), b.ID, func(row *store.ExportRow) error {
		line = appendCSVRow(line[:0], row)
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	a.endStream(c, err)
}

// appendCSVRecord appends one RFC 4180 record: fields as appendCSVField
// makes them, records ended by CRLF. encoding/csv drops a lone CR in CRLF
// mode; this loses nothing.
func appendCSVRecord(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, f)
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
