package handlers

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"playgate/models"
)

// A bug report's body, decoded without reflection.
//
// encoding/json took 6 % of the server's CPU when filing bugs (reading the
// struct's fields by reflection, then nulField's walk). decodeFast reads
// the bodies a game client sends, and nothing else: the fields of
// feedbackRequest, each at most once and spelled as the contract spells
// it, strings without escapes or control characters in valid UTF-8,
// change_id a plain integer. Whatever it does not take, bindJSON decodes,
// with its errors: the two agree on every body decodeFast takes
// (FuzzFeedbackFastDecode), so an answer never depends on which one ran.

// jsonScan reads a JSON document from b.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (s *jsonScan) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal consumes the word w (null) if it comes next.
func (s *jsonScan) literal(w string) bool {
	s.space()
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (s *jsonScan) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// id reads 0 or a positive integer of at most 18 digits, or null.
func (s *jsonScan) id() (*int64, bool) {
	if s.literal("null") {
		return nil, true
	}
	s.space()
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		return nil, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E': // a number, but not an integer
			return nil, false
		}
	}
	return &n, true
}

// object reads {"key": value, …}, calling field for each key; field reads
// the value.
func (s *jsonScan) object(field func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.next(':') || !field(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// decodeFast fills r from body and reports whether it could; r is then
// what encoding/json would make of body.
func (r *feedbackRequest) decodeFast(body []byte) bool {
	s := &jsonScan{b: body}
	var seen [6]bool
	once := func(i int) bool {
		if seen[i] {
			return false // a repeated key: encoding/json's rules apply
		}
		seen[i] = true
		return true
	}
	str := func(i int, dst *string) (ok bool) {
		if ok = once(i); ok {
			*dst, ok = s.str()
		}
		return ok
	}
	ok := s.object(func(key string) (ok bool) {
		switch key {
		case "kind":
			ok = str(0, &r.Kind)
		case "title":
			ok = str(1, &r.Title)
		case "body":
			ok = str(2, &r.Body)
		case "change_id":
			if ok = once(3); ok {
				r.ChangeID, ok = s.id()
			}
		case "severity":
			if ok = once(4); !ok {
				return false
			}
			if s.literal("null") {
				r.Severity = nil
				return true
			}
			var v string
			v, ok = s.str()
			r.Severity = &v
		case "platform":
			if ok = once(5); !ok {
				return false
			}
			if s.literal("null") {
				r.Platform = nil
				return true
			}
			r.Platform = &models.Platform{}
			ok = platformDecodeFast(r.Platform, s)
		}
		return ok
	})
	if !ok {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

func platformDecodeFast(p *models.Platform, s *jsonScan) bool {
	var seen [3]bool
	return s.object(func(key string) (ok bool) {
		var i int
		var dst *string
		switch key {
		case "os":
			i, dst = 0, &p.OS
		case "device":
			i, dst = 1, &p.Device
		case "client_version":
			i, dst = 2, &p.ClientVersion
		default:
			return false
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		*dst, ok = s.str()
		return ok
	})
}

// A feedback item's JSON, written without reflection: json.Marshal's bytes
// (TestFeedbackJSONAsMarshal, FuzzFeedbackJSON), at a fraction of its cost.

// jsonContentType is the Content-Type c.JSON sends.
const jsonContentType = "application/json; charset=utf-8"

// appendFeedbackJSON appends json.Marshal(fb) to dst.
func appendFeedbackJSON(dst []byte, fb *models.Feedback) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, fb.ID, 10)
	dst = append(dst, `,"build_id":`...)
	dst = strconv.AppendInt(dst, fb.BuildID, 10)
	dst = append(dst, `,"change_id":`...)
	dst = appendNullable(dst, fb.ChangeID, appendInt)
	dst = append(dst, `,"tester_id":`...)
	dst = strconv.AppendInt(dst, fb.TesterID, 10)
	dst = append(dst, `,"tester_name":`...)
	dst = appendJSONString(dst, fb.TesterName)
	dst = append(dst, `,"kind":`...)
	dst = appendJSONString(dst, fb.Kind)
	dst = append(dst, `,"severity":`...)
	dst = appendNullable(dst, fb.Severity, appendJSONString)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, fb.Title)
	dst = append(dst, `,"body":`...)
	dst = appendJSONString(dst, fb.Body)
	dst = append(dst, `,"platform":{"os":`...)
	dst = appendJSONString(dst, fb.Platform.OS)
	dst = append(dst, `,"device":`...)
	dst = appendJSONString(dst, fb.Platform.Device)
	dst = append(dst, `,"client_version":`...)
	dst = appendJSONString(dst, fb.Platform.ClientVersion)
	dst = append(dst, `},"status":`...)
	dst = appendJSONString(dst, fb.Status)
	dst = append(dst, `,"duplicate_of":`...)
	dst = appendNullable(dst, fb.DuplicateOf, appendInt)
	dst = append(dst, `,"duplicates":`...)
	dst = strconv.AppendInt(dst, int64(fb.Duplicates), 10)
	dst = append(dst, `,"comment_count":`...)
	dst = strconv.AppendInt(dst, int64(fb.CommentCount), 10)
	dst = append(dst, `,"attachment_count":`...)
	dst = strconv.AppendInt(dst, int64(fb.AttachmentCount), 10)
	dst = append(dst, `,"last_staff_reply_at":`...)
	dst = appendNullable(dst, fb.LastStaffReplyAt, appendJSONTime)
	dst = append(dst, `,"created_at":`...)
	dst = appendJSONTime(dst, fb.CreatedAt)
	dst = append(dst, `,"updated_at":`...)
	dst = appendJSONTime(dst, fb.UpdatedAt)
	return append(dst, '}')
}

// appendNullable appends null for a nil v, else *v as add writes it.
func appendNullable[T any](dst []byte, v *T, add func([]byte, T) []byte) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return add(dst, *v)
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// appendJSONString appends s quoted; text that json.Marshal escapes
// (quotes, control characters, <, >, &, anything outside ASCII) goes
// through json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(dst []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		b, err := t.MarshalJSON()
		if err != nil {
			return append(dst, "null"...) // json.Marshal would fail; Playgate stores no such time
		}
		return append(dst, b...)
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
