package detect

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "http://a:5050", want: []string{"http://a:5050"}},
		{in: " http://a:5050/ , https://b:5050,", want: []string{"http://a:5050", "https://b:5050"}},
		{in: "", wantErr: "no master given"},
		{in: " , ", wantErr: "no master given"},
		{in: "a:5050", wantErr: `master "a:5050"`},
		{in: "ftp://a:5050", wantErr: `master "ftp://a:5050"`},
		{in: "http://", wantErr: `master "http://"`},
	} {
		got, err := ParseList(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseList(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	ctx := t.Context()
	s, err := New(ctx, "http://a:5050,http://b:5050", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Masters(context.Background()); !slices.Equal(got, []string{"http://a:5050", "http://b:5050"}) {
		t.Errorf("Masters = %v", got)
	}
	if _, err := New(ctx, "zk://:2181/x", Options{}); err == nil {
		t.Error("New accepted a zk URL without a host")
	}
	if _, err := New(ctx, "zk://127.0.0.1:2181/corral", Options{}); err != nil {
		t.Errorf("New(zk URL) = %v", err)
	}
}
