package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// ginParam matches gin's path parameters: :name and the catch-all *name.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns gin's /builds/:id into OpenAPI's /builds/{id}.
func openAPIPath(ginPath string) string {
	return ginParam.ReplaceAllString(ginPath, "{$1}")
}

// isUIFallback tells the web UI's routes, which the API document leaves out.
func isUIFallback(path string) bool {
	return path == "/" || (strings.Contains(path, "*") && !strings.HasPrefix(path, "/api/"))
}

// servedOpenAPI fetches the document the server serves and decodes it.
func servedOpenAPI(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.must(200, "GET", "/api/openapi.json", "", nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("/api/openapi.json is not JSON: %v", err)
	}
	return doc
}

// TestOpenAPICoversRoutes fails when a registered route is missing from the
// document, or the document names a route the router does not have.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	doc := servedOpenAPI(t, e)
	router, err := e.api.Router()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, rt := range router.Routes() {
		if isUIFallback(rt.Path) {
			continue
		}
		registered[rt.Method+" "+openAPIPath(rt.Path)] = true
	}
	documented := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range openAPIMethods {
			if _, ok := ops[m]; ok {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	var missing, extra []string
	for r := range registered {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !registered[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, r := range missing {
		t.Errorf("registered but not documented in handlers/openapi.json: %s", r)
	}
	for _, d := range extra {
		t.Errorf("documented in handlers/openapi.json but not registered in handlers/api.go: %s", d)
	}
	if len(registered) == 0 {
		t.Fatal("the router has no routes")
	}
}

// TestOpenAPIDocumentIsValid checks the document's shape: OpenAPI 3, every
// $ref resolves, every operation says who may call it, declares its path
// parameters, a success answer and the error envelope for its errors.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	e := newEnv(t)
	doc := servedOpenAPI(t, e)

	version, _ := doc["openapi"].(string)
	if !strings.HasPrefix(version, "3.") {
		t.Fatalf("openapi = %q, want 3.x", version)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs a title and a version: %v", info)
	}
	schemes, _ := oaLookup(doc, "#/components/securitySchemes/bearerAuth").(map[string]any)
	if schemes["type"] != "http" || schemes["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth must be HTTP bearer: %v", schemes)
	}
	if oaLookup(doc, "#/components/schemas/Error") == nil {
		t.Fatal("components.schemas.Error (the error envelope) is missing")
	}

	// Every $ref points at something.
	oaWalkRefs(doc, func(ref string) {
		if oaLookup(doc, ref) == nil {
			t.Errorf("$ref %q does not resolve", ref)
		}
	})

	globalSecurity := doc["security"] != nil
	seenIDs := map[string]string{}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("the document has no paths")
	}
	templateParam := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range openAPIMethods {
			raw, ok := ops[m]
			if !ok {
				continue
			}
			name := strings.ToUpper(m) + " " + path
			o, _ := raw.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if prev, dup := seenIDs[id]; dup {
				t.Errorf("%s: operationId %q already used by %s", name, id, prev)
			}
			seenIDs[id] = name

			desc, _ := o["description"].(string)
			if !strings.Contains(desc, "Roles:") {
				t.Errorf("%s: the description must name the roles (\"Roles: …\"): %q", name, desc)
			}

			// Path parameters are declared.
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					pm, _ = oaLookup(doc, ref).(map[string]any)
				}
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter {%s} is not declared", name, m[1])
				}
			}

			// Answers: a success, and the envelope for every error.
			responses, _ := o["responses"].(map[string]any)
			success := false
			for code, r := range responses {
				if strings.HasPrefix(code, "2") {
					success = true
					continue
				}
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				rm, _ := r.(map[string]any)
				if ref, ok := rm["$ref"].(string); ok {
					rm, _ = oaLookup(doc, ref).(map[string]any)
				}
				schemaRef, _ := oaLookup(rm, "#/content/application~1json/schema/$ref").(string)
				if schemaRef != "#/components/schemas/Error" {
					t.Errorf("%s: error answer %s must use the error envelope, got %v", name, code, rm)
				}
			}
			if !success {
				t.Errorf("%s: no 2xx answer", name)
			}
			if _, ok := responses["500"]; !ok {
				t.Errorf("%s: no 500 answer", name)
			}

			// Operations that need a token say so, and document the 401.
			secured := globalSecurity
			if sec, ok := o["security"].([]any); ok {
				secured = len(sec) > 0
			}
			if secured {
				if _, ok := responses["401"]; !ok {
					t.Errorf("%s: needs a bearer token but documents no 401", name)
				}
			}
		}
	}
}

// oaWalkRefs calls fn with every "$ref" value in v.
func oaWalkRefs(v any, fn func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "$ref" {
				fn(s)
				continue
			}
			oaWalkRefs(val, fn)
		}
	case []any:
		for _, val := range x {
			oaWalkRefs(val, fn)
		}
	}
}

// oaLookup resolves a local JSON pointer ("#/a/b") in v; nil when absent.
func oaLookup(v any, pointer string) any {
	if !strings.HasPrefix(pointer, "#/") {
		return nil
	}
	cur := v
	for _, part := range strings.Split(strings.TrimPrefix(pointer, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// TestOpenAPIResponsesMatch walks the API through the real router and
// checks each JSON answer against the schema the document gives for its
// route and status: types, enums, required fields, and no field the
// document does not name.
func TestOpenAPIResponsesMatch(t *testing.T) {
	e := newEnv(t)
	doc := servedOpenAPI(t, e)
	check := func(method, tpl string, r resp) {
		t.Helper()
		oaCheckResponse(t, doc, method, tpl, r)
	}
	admin := e.admin.Token

	check("GET", "/healthz", e.must(200, "GET", "/healthz", "", nil))
	check("GET", "/readyz", e.must(200, "GET", "/readyz", "", nil))
	check("POST", "/api/v1/auth/login", e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": e.admin.Email, "password": e.admin.Password}))
	check("POST", "/api/v1/auth/login", e.must(401, "POST", "/api/v1/auth/login", "", map[string]string{"email": e.admin.Email, "password": "wrong-password"}))
	check("POST", "/api/v1/auth/login", e.must(400, "POST", "/api/v1/auth/login", "", map[string]string{"email": ""}))
	check("GET", "/api/v1/me", e.must(200, "GET", "/api/v1/me", admin, nil))
	check("GET", "/api/v1/me", e.must(401, "GET", "/api/v1/me", "", nil))

	u := e.must(201, "POST", "/api/v1/users", admin, map[string]any{"email": "rm@example.com", "name": "Rae", "role": "release_manager", "password": "release-password"})
	check("POST", "/api/v1/users", u)
	check("GET", "/api/v1/users", e.must(200, "GET", "/api/v1/users", admin, nil))
	check("PATCH", "/api/v1/users/{id}", e.must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", oaID(t, u)), admin, map[string]any{"name": "Rae Manager"}))

	p := e.must(201, "POST", "/api/v1/products", admin, map[string]any{"name": "Star Raiders", "slug": "star-raiders"})
	check("POST", "/api/v1/products", p)
	check("POST", "/api/v1/products", e.must(409, "POST", "/api/v1/products", admin, map[string]any{"name": "Again", "slug": "star-raiders"}))
	pid := oaID(t, p)
	check("GET", "/api/v1/products", e.must(200, "GET", "/api/v1/products", admin, nil))
	check("GET", "/api/v1/products/{id}", e.must(200, "GET", fmt.Sprintf("/api/v1/products/%d", pid), admin, nil))
	b := e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": "1.0.0",
		"access": map[string]string{"url": "https://dl.example.com/qc.zip", "key": "K-1"}, "closes_at": "2099-01-01T00:00:00Z", "policy": map[string]any{"min_votes": 1}})
	check("POST", "/api/v1/products/{id}/builds", b)
	check("POST", "/api/v1/products/{id}/builds", e.must(400, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": ""}))
	bid := oaID(t, b)
	check("GET", "/api/v1/builds", e.must(200, "GET", "/api/v1/builds", admin, nil))
	check("GET", "/api/v1/builds/{id}", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), admin, nil))
	check("PATCH", "/api/v1/builds/{id}", e.must(200, "PATCH", fmt.Sprintf("/api/v1/builds/%d", bid), admin, map[string]any{"notes": "QC round 1"}))
	ch := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin, map[string]any{"key": "SR-1", "title": "Faster jump"})
	check("POST", "/api/v1/builds/{id}/changes", ch)
	cid := oaID(t, ch)
	ch2 := oaID(t, e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin, map[string]any{"key": "SR-2", "title": "New menu"}))

	inv := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]any{"email": "tess@example.com"})
	check("POST", "/api/v1/builds/{id}/invites", inv)
	token := inv.JSON(t)["token"].(string)
	red := e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]any{"token": token, "name": "Tess", "password": "tess-password"})
	check("POST", "/api/v1/invites/redeem", red)
	check("POST", "/api/v1/invites/redeem", e.must(410, "POST", "/api/v1/invites/redeem", "", map[string]any{"token": token, "password": "tess-password"}))
	tester := red.JSON(t)["access_token"].(string)
	refresh := red.JSON(t)["refresh_token"].(string)
	check("GET", "/api/v1/builds/{id}/invites", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, nil))
	other := oaID(t, e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]any{"email": "ola@example.com"}))
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/invites/%d", other), admin, nil)
	check("GET", "/api/v1/builds/{id}/testers", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/testers", bid), admin, nil))
	check("GET", "/api/v1/builds/{id}/changes", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", bid), tester, nil))
	check("GET", "/api/v1/builds/{id}", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), tester, nil))
	check("GET", "/api/v1/builds/{id}", e.must(404, "GET", "/api/v1/builds/999999", tester, nil))
	check("GET", "/api/v1/users", e.must(403, "GET", "/api/v1/users", tester, nil))

	check("PUT", "/api/v1/changes/{id}/vote", e.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", cid), tester, map[string]any{"vote": "revert", "comment": "Too fast"}))
	check("PUT", "/api/v1/changes/{id}/vote", e.must(400, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", cid), tester, map[string]any{"vote": "maybe"}))
	fb := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tester, map[string]any{"kind": "bug", "severity": "critical",
		"title": "Crash on jump", "change_id": cid, "platform": map[string]string{"os": "Windows 11"}})
	check("POST", "/api/v1/builds/{id}/feedback", fb)
	check("POST", "/api/v1/builds/{id}/feedback", e.must(400, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tester, map[string]any{"kind": "bug", "title": "No severity"}))
	check("POST", "/api/v1/builds/{id}/feedback", e.must(400, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tester, map[string]any{"kind": "praise", "title": "x", "extra": 1}))
	fid := oaID(t, fb)
	check("GET", "/api/v1/builds/{id}/feedback", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), admin, nil))
	check("GET", "/api/v1/builds/{id}/similar", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/similar?title=crash+jump", bid), tester, nil))
	check("POST", "/api/v1/feedback/{id}/comments", e.must(201, "POST", fmt.Sprintf("/api/v1/feedback/%d/comments", fid), admin, map[string]any{"body": "Thanks, looking."}))
	body, ct := oaMultipartPNG(t)
	att := e.must(201, "POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), tester, body, "Content-Type", ct)
	check("POST", "/api/v1/feedback/{id}/attachments", att)
	check("POST", "/api/v1/feedback/{id}/attachments", e.must(415, "POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), tester, []byte("{}")))
	check("GET", "/api/v1/feedback/{id}", e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), tester, nil))
	check("GET", "/api/v1/builds/{id}/report", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, nil))
	check("GET", "/api/v1/builds/{id}/gate", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/gate", bid), admin, nil))

	// The critical bug flags SR-1: approving it needs a note.
	check("POST", "/api/v1/changes/{id}/decision", e.must(400, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", cid), admin, map[string]any{"decision": "approved"}))
	check("POST", "/api/v1/changes/{id}/decision", e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", cid), admin, map[string]any{"decision": "approved", "note": "Fix is in"}))
	check("POST", "/api/v1/builds/{id}/promote", e.must(409, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), admin, map[string]any{"to": "staging"}))
	check("PATCH", "/api/v1/feedback/{id}", e.must(200, "PATCH", fmt.Sprintf("/api/v1/feedback/%d", fid), admin, map[string]any{"status": "resolved"}))
	e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", ch2), admin, map[string]any{"decision": "reverted", "note": ""})
	check("POST", "/api/v1/builds/{id}/promote", e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), admin, map[string]any{"to": "staging"}))
	check("POST", "/api/v1/builds/{id}/promote", e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), admin, map[string]any{"to": "production"}))
	check("GET", "/api/v1/builds/{id}/release-notes", e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/release-notes", bid), admin, nil))
	check("POST", "/api/v1/products/{id}/rollback", e.must(409, "POST", fmt.Sprintf("/api/v1/products/%d/rollback", pid), admin, nil))
	hook := e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/webhooks", pid), admin, map[string]any{
		"url": "http://127.0.0.1:9/hook", "events": []string{"build.promoted"}, "secret": "a-secret-of-16-chars"})
	check("POST", "/api/v1/products/{id}/webhooks", hook)
	check("POST", "/api/v1/products/{id}/webhooks", e.must(400, "POST", fmt.Sprintf("/api/v1/products/%d/webhooks", pid), admin, map[string]any{"url": "ftp://x", "events": []string{}, "secret": "short"}))
	check("GET", "/api/v1/products/{id}/webhooks", e.must(200, "GET", fmt.Sprintf("/api/v1/products/%d/webhooks", pid), admin, nil))
	check("GET", "/api/v1/webhooks/{id}/deliveries", e.must(200, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", oaID(t, hook)), admin, nil))
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/products/%d/webhooks/%d", pid, oaID(t, hook)), admin, nil)
	check("DELETE", "/api/v1/users/{id}", e.must(400, "DELETE", fmt.Sprintf("/api/v1/users/%d", oaID(t, u)), admin, nil))
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d?erase=true", oaID(t, u)), admin, nil)
	check("GET", "/api/v1/audit", e.must(200, "GET", "/api/v1/audit", admin, nil))
	check("POST", "/api/v1/auth/refresh", e.must(200, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": refresh}))
	check("POST", "/api/v1/auth/refresh", e.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": refresh}))
}

// oaCheckResponse validates one answer against the document.
func oaCheckResponse(t *testing.T, doc map[string]any, method, tpl string, r resp) {
	t.Helper()
	name := fmt.Sprintf("%s %s → %d", method, tpl, r.Status)
	op, _ := oaLookup(doc, "#/paths/"+oaEscape(tpl)+"/"+strings.ToLower(method)).(map[string]any)
	if op == nil {
		t.Errorf("%s: not documented", name)
		return
	}
	answer, _ := oaLookup(op, "#/responses/"+strconv.Itoa(r.Status)).(map[string]any)
	if answer == nil {
		t.Errorf("%s: status not documented: %s", name, r.Body)
		return
	}
	if ref, ok := answer["$ref"].(string); ok {
		answer, _ = oaLookup(doc, ref).(map[string]any)
	}
	schema := oaLookup(answer, "#/content/application~1json/schema")
	if schema == nil {
		if len(r.Body) > 0 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: the document gives no JSON schema for this answer: %s", name, r.Body)
		}
		return
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Errorf("%s: not JSON: %v: %s", name, err, r.Body)
		return
	}
	for _, problem := range oaValidate(doc, schema, v, "$") {
		t.Errorf("%s: %s\n  body: %s", name, problem, r.Body)
	}
}

func oaEscape(pathKey string) string {
	return strings.ReplaceAll(strings.ReplaceAll(pathKey, "~", "~0"), "/", "~1")
}

// oaValidate checks v against the subset of JSON Schema the document uses
// ($ref, allOf, oneOf, type, enum, properties, required,
// additionalProperties, items). An object with documented properties may
// not carry others.
func oaValidate(doc map[string]any, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return oaValidate(doc, oaLookup(doc, ref), v, at)
	}
	var problems []string
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			problems = append(problems, oaValidateShallow(doc, sub, v, at)...)
		}
		problems = append(problems, oaUnknownFields(doc, s, v, at)...)
		return problems
	}
	if one, ok := s["oneOf"].([]any); ok {
		var firstErr []string
		for _, sub := range one {
			p := oaValidate(doc, sub, v, at)
			if len(p) == 0 {
				return nil
			}
			if firstErr == nil {
				firstErr = p
			}
		}
		return firstErr
	}
	return append(oaValidateShallow(doc, s, v, at), oaUnknownFields(doc, s, v, at)...)
}

// oaValidateShallow checks everything but unknown fields (allOf parts each
// see only their own properties).
func oaValidateShallow(doc map[string]any, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return oaValidateShallow(doc, oaLookup(doc, ref), v, at)
	}
	if _, ok := s["allOf"]; ok {
		var problems []string
		for _, sub := range s["allOf"].([]any) {
			problems = append(problems, oaValidateShallow(doc, sub, v, at)...)
		}
		return problems
	}
	if _, ok := s["oneOf"]; ok {
		return oaValidate(doc, s, v, at)
	}
	if types := oaTypes(s["type"]); len(types) > 0 && !types[oaJSONType(v)] && !(types["number"] && oaJSONType(v) == "integer") {
		return []string{fmt.Sprintf("%s: %s, want %v", at, oaJSONType(v), s["type"])}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
		}
	}
	var problems []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, k := range req {
				if _, ok := x[k.(string)]; !ok {
					problems = append(problems, fmt.Sprintf("%s: required field %q is missing", at, k))
				}
			}
		}
		for k, val := range x {
			if ps, ok := props[k]; ok {
				problems = append(problems, oaValidate(doc, ps, val, at+"."+k)...)
			} else if extra, ok := s["additionalProperties"].(map[string]any); ok {
				problems = append(problems, oaValidate(doc, extra, val, at+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, val := range x {
				problems = append(problems, oaValidate(doc, items, val, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

// oaUnknownFields reports fields of an object that no (allOf part of the)
// schema names.
func oaUnknownFields(doc map[string]any, schema any, v any, at string) []string {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	known, open := map[string]bool{}, false
	var collect func(any)
	collect = func(sc any) {
		s, _ := sc.(map[string]any)
		if ref, ok := s["$ref"].(string); ok {
			collect(oaLookup(doc, ref))
			return
		}
		if all, ok := s["allOf"].([]any); ok {
			for _, sub := range all {
				collect(sub)
			}
		}
		props, hasProps := s["properties"].(map[string]any)
		if _, ok := s["additionalProperties"].(map[string]any); ok || (!hasProps && s["allOf"] == nil) {
			open = true
		}
		for k := range props {
			known[k] = true
		}
	}
	collect(schema)
	if open {
		return nil
	}
	var problems []string
	for k := range obj {
		if !known[k] {
			problems = append(problems, fmt.Sprintf("%s: field %q is not in the document", at, k))
		}
	}
	sort.Strings(problems)
	return problems
}

func oaTypes(t any) map[string]bool {
	out := map[string]bool{}
	switch x := t.(type) {
	case string:
		out[x] = true
	case []any:
		for _, s := range x {
			out[s.(string)] = true
		}
	}
	return out
}

func oaJSONType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func oaID(t *testing.T, r resp) int64 {
	t.Helper()
	id, ok := r.JSON(t)["id"].(float64)
	if !ok {
		t.Fatalf("no id in %s", r.Body)
	}
	return int64(id)
}

// oaMultipartPNG is a multipart body with a small PNG in the field "file".
func oaMultipartPNG(t *testing.T) ([]byte, string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, err := w.CreateFormFile("file", "shot.png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write(pngBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}
