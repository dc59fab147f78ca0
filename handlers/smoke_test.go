package handlers_test

import (
	"fmt"
	"testing"
)

func TestTesterPathSmoke(t *testing.T) {
	e := newEnv(t)
	bid, changes := e.build(2)
	tt := e.tester(bid)
	e.vote(tt, changes[0], "revert")
	e.vote(tt, changes[0], "keep")
	id := e.bug(tt, bid, &changes[1], "critical", "Crash when opening the map")
	r := e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", id), tt.Token, nil)
	if r.JSON(t)["title"] != "Crash when opening the map" {
		t.Fatalf("got %s", r.Body)
	}
	list := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", bid), tt.Token, nil).Items(t)
	if list[0]["my_vote"] != "keep" || list[1]["my_vote"] != nil {
		t.Fatalf("my_vote: %v", list)
	}
}
