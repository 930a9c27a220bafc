package app

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sameJSON fails the test unless got and want are the same JSON document.
func sameJSON(t *testing.T, name string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: output is not JSON: %v\n%s", name, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: golden is not JSON: %v", name, err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("%s differs from golden (-want +got):\n%s", name, d)
	}
}

// TestGolden decodes, normalizes, validates and writes back the example
// apps, and compares the output with testdata/<name>.golden.json. The
// golden output must itself decode back to the same app, as a stored app
// does.
func TestGolden(t *testing.T) {
	for _, name := range []string{"minimal", "marathon14", "secrets"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Decode(in)
			if err != nil {
				t.Fatalf("Decode(%s) = %v; want no error", name, err)
			}
			a.Normalize()
			if verr := Validate(a); verr != nil {
				t.Fatalf("Validate(%s) = %v; want nil", name, verr)
			}
			got, err := json.MarshalIndent(a, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, name, got, want)

			b, err := Decode(want)
			if err != nil {
				t.Fatalf("Decode(%s golden) = %v; want no error", name, err)
			}
			b.Normalize()
			again, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, name+" round trip", again, want)
			if !ConfigEqual(a, b) {
				t.Errorf("ConfigEqual(%s, decoded golden) = false; want true", name)
			}
		})
	}
}

// TestGoldenDocker: the Marathon 1.4 example with its Docker container
// on the bridge (legacy shape) is valid: its ports are the mappings'
// service ports, its one mapping gets a dynamic host port.
func TestGoldenDocker(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "marathon14-docker.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(in)
	if err != nil {
		t.Fatalf("Decode(marathon14-docker) = %v; want no error", err)
	}
	a.Normalize()
	if got := Validate(a); got != nil {
		t.Fatalf("Validate(marathon14-docker) = %v; want valid", got)
	}
	zero := 0
	want := &Docker{Image: "python:3", Network: NetworkBridge,
		PortMappings: []PortMapping{{ContainerPort: 8080, HostPort: &zero, ServicePort: 9000, Protocol: "tcp"}}}
	if d := cmp.Diff(want, DockerOf(a)); d != "" {
		t.Errorf("DockerOf(marathon14-docker) (-want +got):\n%s", d)
	}
	if len(a.PortDefinitions) != 0 || a.PortCount() != 1 {
		t.Errorf("portDefinitions %v, PortCount %d; want none and 1 (the mapping)", a.PortDefinitions, a.PortCount())
	}
	// The container is kept as posted, compacted.
	var c bytes.Buffer
	_ = json.Compact(&c, []byte(`{"type":"DOCKER","docker":{"image":"python:3","network":"BRIDGE",
	 "portMappings":[{"containerPort":8080,"hostPort":0,"servicePort":9000,"protocol":"tcp"}]},"volumes":[]}`))
	if !bytes.Equal(a.Container, c.Bytes()) {
		t.Errorf("Decode(marathon14-docker).Container = %s; want %s", a.Container, c.Bytes())
	}
}
