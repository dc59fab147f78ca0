package handlers

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"playgate/models"
)

// fastDecodeCases are bug-report bodies, and whether decodeFast takes them
// (the rest go to encoding/json).
var fastDecodeCases = []struct {
	body string
	fast bool
}{
	// The shape of the load tools' bug report (bugBody, playgate-bench).
	{`{"kind":"bug","severity":"high","title":"Crash when opening inventory","body":"Steps: open it.","change_id":12,"platform":{"os":"Windows 11","device":"PC","client_version":"1.0.3"}}`, true},
	{` { "kind" : "praise" , "title" : "Lovely fog" } ` + "\n", true},
	{`{"kind":"suggestion","title":"Más niebla, 霧","body":"ü ✓ 🎮","severity":null,"change_id":null,"platform":null}`, true},
	{`{"kind":"bug","change_id":0,"platform":{}}`, true},
	{`{"change_id":999999999999999999}`, true},
	{`{}`, true},
	{`{"title":"Quote \" inside"}`, false},
	{`{"title":"Tab\tinside"}`, false},
	{`{"title":"nul \u0000"}`, false},
	{"{\"title\":\"raw \x01 control\"}", false},
	{"{\"title\":\"bad \xff utf-8\"}", false},
	{`{"Kind":"bug"}`, false},
	{`{"kind":"bug","kind":"praise"}`, false},
	{`{"kind":"bug","rating":4}`, false},
	{`{"change_id":"CL-12"}`, false},
	{`{"change_id":-3}`, false},
	{`{"change_id":1.5}`, false},
	{`{"change_id":1e3}`, false},
	{`{"change_id":012}`, false},
	{`{"change_id":9999999999999999999}`, false},
	{`{"severity":3}`, false},
	{`{"platform":{"os":"Linux","arch":"arm64"}}`, false},
	{`{"platform":{"os":"a","os":"b"}}`, false},
	{`{"platform":"Linux"}`, false},
	{`{"title":"x"}{"title":"y"}`, false},
	{`{"title":"x",}`, false},
	{`{"title":"x"`, false},
	{`[]`, false},
	{``, false},
	{`null`, false},
	{"\ufeff{}", false},
}

// decodeBoth decodes body with decodeFast and with encoding/json (as
// bindJSON does), and fails t if decodeFast takes a body that
// encoding/json refuses or reads differently.
func decodeBoth(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	var quick feedbackRequest
	fast = quick.decodeFast(body)
	var std feedbackRequest
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	ok := decodeJSON(c, body, &std)
	if fast && !ok {
		t.Fatalf("decodeFast took %q, which encoding/json refuses", body)
	}
	if fast && !reflect.DeepEqual(quick, std) {
		t.Fatalf("%q: decodeFast read %+v, encoding/json %+v", body, quick, std)
	}
	return fast
}

func TestFeedbackFastDecode(t *testing.T) {
	for _, tc := range fastDecodeCases {
		if fast := decodeBoth(t, []byte(tc.body)); fast != tc.fast {
			t.Errorf("%q: decodeFast took it: %v, want %v", tc.body, fast, tc.fast)
		}
	}
	// The fields it read.
	var r feedbackRequest
	if !r.decodeFast([]byte(fastDecodeCases[0].body)) || r.Kind != "bug" || r.Severity == nil || *r.Severity != "high" ||
		r.ChangeID == nil || *r.ChangeID != 12 || r.Platform == nil || r.Platform.ClientVersion != "1.0.3" ||
		!strings.HasPrefix(r.Title, "Crash") || r.Body != "Steps: open it." {
		t.Errorf("decodeFast read %+v", r)
	}
}

// FuzzFeedbackFastDecode: whatever body decodeFast takes, encoding/json
// takes too and reads the same.
func FuzzFeedbackFastDecode(f *testing.F) {
	for _, tc := range fastDecodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeBoth(t, body)
	})
}

// feedbackJSONCases are items whose JSON appendFeedbackJSON writes.
func feedbackJSONCases() []*models.Feedback {
	at := time.Date(2026, 11, 27, 3, 4, 5, 123456789, time.UTC)
	whole := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sev, change, dup := "critical", int64(7), int64(3)
	return []*models.Feedback{
		{},
		{ID: 1, BuildID: 2, TesterID: 3, TesterName: "Ada", Kind: "praise", Title: "Lovely fog", Status: "new", CreatedAt: at, UpdatedAt: whole},
		{ID: 1 << 60, BuildID: 2, ChangeID: &change, TesterID: 3, TesterName: "Zoë <admin> & \"friends\"", Kind: "bug", Severity: &sev,
			Title: "Crash\twhen\nopening \\ inventory \u2028 \x01", Body: "bad \xff utf-8, 🎮 ü", Platform: models.Platform{OS: "Windows 11", Device: "PC", ClientVersion: "1.0.3"},
			Status: "duplicate", DuplicateOf: &dup, Duplicates: 2, CommentCount: 5, AttachmentCount: 1, LastStaffReplyAt: &at,
			CreatedAt: at.In(time.FixedZone("CET", 3600)), UpdatedAt: at},
	}
}

// The item's JSON is json.Marshal's, byte for byte.
func TestFeedbackJSONAsMarshal(t *testing.T) {
	for _, fb := range feedbackJSONCases() {
		want, err := json.Marshal(fb)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFeedbackJSON(nil, fb); string(got) != string(want) {
			t.Errorf("appendFeedbackJSON:\n%s\njson.Marshal:\n%s", got, want)
		}
	}
}

// FuzzFeedbackJSON: any text in an item's fields, json.Marshal's bytes.
func FuzzFeedbackJSON(f *testing.F) {
	f.Add("Lovely fog", "Ada", "Steps: open it.", "Windows 11", int64(1), int64(0))
	f.Add("<b>&amp;</b> \"q\" \\ \t\n\x00 \u2028\u2029 \xff", "Zoë", "🎮", "", int64(-5), int64(1)<<62)
	f.Fuzz(func(t *testing.T, title, name, body, os string, id, nanos int64) {
		fb := feedbackJSONCases()[2]
		fb.Title, fb.TesterName, fb.Body, fb.Platform.OS, fb.Severity = title, name, body, os, &title
		fb.ID, fb.ChangeID = id, &id
		fb.CreatedAt = time.Unix(0, nanos).UTC()
		want, err := json.Marshal(fb)
		if err != nil {
			t.Skip() // a time json.Marshal refuses
		}
		if got := appendFeedbackJSON(nil, fb); string(got) != string(want) {
			t.Errorf("appendFeedbackJSON:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}
