package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"playgate/store"
)

// Body limits of the contract.
const (
	maxBody   = 1 << 20
	maxUpload = 10 << 20
)

// bindJSON decodes the request body strictly into v (whatever the
// Content-Type claims, so curl without -H works): unknown fields, a
// second document or a wrong type are 400, an oversized body 413. It answers
// the error itself and reports whether to go on.
func bindJSON(c *gin.Context, v any) bool {
	body, ok := readJSONBody(c)
	return ok && decodeJSON(c, body, v)
}

// bindFeedback is bindJSON for a bug report, which it decodes without
// reflection when it can (fastjson.go).
func bindFeedback(c *gin.Context, req *feedbackRequest) bool {
	body, ok := readJSONBody(c)
	if !ok {
		return false
	}
	if req.decodeFast(body) {
		return true
	}
	*req = feedbackRequest{}
	return decodeJSON(c, body, req)
}

// readJSONBody reads the body bindJSON decodes, or answers why it cannot.
func readJSONBody(c *gin.Context) ([]byte, bool) {
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as JSON.")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(c, http.StatusRequestEntityTooLarge, "too_large", "The request body is over 1 MiB.")
			return nil, false
		}
		fail(c, http.StatusBadRequest, "invalid_json", "The request body could not be read.")
		return nil, false
	}
	return body, true
}

func decodeJSON(c *gin.Context, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		if field := nulField(reflect.ValueOf(v), ""); field != "" {
			invalid(c, map[string]string{field: "must not contain NUL characters"})
			return false
		}
		return true
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		invalid(c, map[string]string{typeErr.Field: "must be " + jsonType(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		fail(c, http.StatusBadRequest, "invalid_json", fmt.Sprintf("Unknown field %q.", field))
	case errors.Is(err, io.EOF):
		fail(c, http.StatusBadRequest, "invalid_json", "The request body is empty: send a JSON object.")
	default:
		fail(c, http.StatusBadRequest, "invalid_json", "The request body is not valid JSON.")
	}
	return false
}

// nulField names the first string of a decoded body that holds a NUL
// character ("" when none does): no text column can store one (PostgreSQL
// refuses it), so it is a client's mistake, not a 500.
func nulField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulField(v.Elem(), path)
		}
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			if path == "" {
				return "body"
			}
			return path
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			sub := path
			switch {
			case name == "-":
				continue
			case name == "" && f.Anonymous:
			case name == "":
				sub = joinField(path, f.Name)
			default:
				sub = joinField(path, name)
			}
			if p := nulField(v.Field(i), sub); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // raw JSON, checked when it is decoded
		}
		for i := 0; i < v.Len(); i++ {
			if p := nulField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			sub := joinField(path, fmt.Sprint(it.Key().Interface()))
			if p := nulField(it.Key(), sub); p != "" {
				return p
			}
			if p := nulField(it.Value(), sub); p != "" {
				return p
			}
		}
	}
	return ""
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	case "slice":
		return "an array"
	}
	return "an object"
}

// idParam reads a positive integer path parameter; anything else is 404,
// since no such resource can exist.
func idParam(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		notFound(c, "Resource")
		return 0, false
	}
	return id, true
}

// pageParams reads limit and cursor.
func pageParams(c *gin.Context) (store.Page, bool) {
	p := store.Page{Limit: store.DefaultLimit}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			invalid(c, map[string]string{"limit": "must be a whole number from 1 to 200"})
			return p, false
		}
		p.Limit = n
	}
	if cur := c.Query("cursor"); cur != "" {
		after, ok := store.DecodeCursor(cur)
		if !ok {
			invalid(c, map[string]string{"cursor": "is not a cursor this server gave out"})
			return p, false
		}
		p.After = after
	}
	return p, true
}

// optionalID reads an optional positive integer query parameter.
func optionalID(c *gin.Context, name string) (*int64, bool) {
	v := c.Query(name)
	if v == "" {
		return nil, true
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		invalid(c, map[string]string{name: "must be a positive whole number"})
		return nil, false
	}
	return &id, true
}

// list answers the contract's list shape.
func list[T any](c *gin.Context, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": cursor})
}
