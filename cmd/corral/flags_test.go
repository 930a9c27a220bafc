package main

import (
	"flag"
	"slices"
	"testing"
	"time"
)

func TestParseFlagsAndEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		wantDB   string
		wantWait time.Duration
		wantArgs []string
		wantErr  bool
	}{
		{"flags first", []string{"--db", "x", "up"}, nil, "x", time.Second, []string{"up"}, false},
		{"flags after", []string{"up", "--db", "x"}, nil, "x", time.Second, []string{"up"}, false},
		{"env fills in", []string{"up"}, map[string]string{"CORRAL_DB": "env", "CORRAL_WAIT": "3"}, "env", 3 * time.Second, []string{"up"}, false},
		{"flag beats env", []string{"--db=flag", "version"}, map[string]string{"CORRAL_DB": "env"}, "flag", time.Second, []string{"version"}, false},
		{"double dash", []string{"--", "--db", "x"}, nil, "", time.Second, []string{"--db", "x"}, false},
		{"bad duration", []string{"--wait", "soon"}, nil, "", 0, nil, true},
		{"bad env duration", nil, map[string]string{"CORRAL_WAIT": "later"}, "", 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(nopWriter{})
			db := fs.String("db", "", "")
			wait := time.Second
			durationVar(fs, &wait, "wait", "")
			err := parse(fs, tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parse(%q) err = %v; wantErr %v", tc.args, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if *db != tc.wantDB || wait != tc.wantWait || !slices.Equal(fs.Args(), tc.wantArgs) {
				t.Errorf("parse(%q) = db %q wait %v args %q; want %q %v %q", tc.args, *db, wait, fs.Args(), tc.wantDB, tc.wantWait, tc.wantArgs)
			}
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
