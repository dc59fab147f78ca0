package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	if strings.HasPrefix(c.ContentType(), "multipart/") {
		fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as JSON.")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(c, http.StatusRequestEntityTooLarge, "too_large", "The request body is over 1 MiB.")
			return false
		}
		fail(c, http.StatusBadRequest, "invalid_json", "The request body could not be read.")
		return false
	}
	return decodeJSON(c, body, v)
}

func decodeJSON(c *gin.Context, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
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
