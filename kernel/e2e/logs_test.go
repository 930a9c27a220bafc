package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// TestLogRotation: a task writing 100 MB of numbered lines on an agent
// with the default limits (10 MB files, 5 kept) leaves stdout and
// stdout.1 to .4, each at most 10 MB and ending a line, holding the last
// lines written in order: none lost or repeated between the files; and a
// task overriding the limits with Mesos' CONTAINER_LOGGER_ variables gets
// its own.
func TestLogRotation(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := startFramework(t, c.URL, plainInfo("logs"))
	// 100 MB: 1,250,000 lines of 80 bytes.
	big := shellTask("big", `awk 'BEGIN { for (i = 0; i < 1250000; i++) printf "%010d %068d\n", i, 0 }'`, 0.5, 64)
	small := shellTask("small", `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done`, 0.1, 32)
	small.Command.Environment = &mesos.Environment{Variables: []mesos.Variable{
		{Name: "CONTAINER_LOGGER_MAX_STDOUT_SIZE", Value: "4KB"},
		{Name: "CONTAINER_LOGGER_LOGROTATE_STDOUT_OPTIONS", Value: "rotate 2"},
	}}
	f.launch(big, small)
	for _, id := range []string{"big", "small"} {
		if st := f.waitState(id, 120*time.Second, mesos.TaskFinished, mesos.TaskFailed); st.State != mesos.TaskFinished {
			t.Fatalf("task %s: %s %s", id, st.State, st.Message)
		}
	}
	sandbox := func(id string) string {
		for _, fw := range c.State().Frameworks {
			for _, tk := range append(fw.Tasks, fw.CompletedTasks...) {
				if tk.ID == id {
					return tk.Sandbox
				}
			}
		}
		t.Fatalf("no sandbox for %s", id)
		return ""
	}
	kept := func(dir string, files int, max int) []byte {
		var all []byte
		for i := files - 1; i >= 0; i-- {
			name := "stdout"
			if i > 0 {
				name = fmt.Sprintf("stdout.%d", i)
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(b) > max || len(b) == 0 || b[len(b)-1] != '\n' {
				t.Errorf("%s: %d bytes; want at most %d, ending a line", name, len(b), max)
			}
			all = append(all, b...)
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("stdout.%d", files))); !os.IsNotExist(err) {
			t.Errorf("stdout.%d exists; want %d files kept", files, files)
		}
		return all
	}

	all := kept(sandbox("big"), 5, 10<<20)
	lines := bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n"))
	first := 1250000 - len(lines)
	for i, l := range lines {
		if want := fmt.Sprintf("%010d %068d", first+i, 0); string(l) != want {
			t.Fatalf("kept line %d = %q; want %q: lines lost or repeated across the rotation", i, l, want)
		}
	}
	if len(all) < 40<<20 {
		t.Errorf("kept %d bytes; want about 50 MB (5 files of 10 MB)", len(all))
	}

	small1 := kept(sandbox("small"), 3, 4096)
	if !bytes.HasSuffix(small1, []byte("line 998\nline 999\n")) {
		t.Errorf("the small task's kept output ends %q; want its last lines", small1[max(0, len(small1)-30):])
	}
}
