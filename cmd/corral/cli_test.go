package main

import (
	"net"
	"strings"
	"testing"
)

func TestClientVerbsDispatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"app", "--help"}, 0},
		{[]string{"help", "job"}, 0},
		{[]string{"help", "agent", "list"}, 0},
		{[]string{"agent", "list", "--help"}, 0},
		{[]string{"app"}, 2},
		{[]string{"app", "nonsense"}, 2},
		// `corral agent list` is the client verb, not an agent with an
		// unexpected argument (which would exit 2).
		{[]string{"agent", "list", "--master", closed}, 4},
		{[]string{"job", "list", "--jobs", closed}, 4},
	} {
		if got := run(tc.args); got != tc.want {
			t.Errorf("run(%q) = %d; want %d", tc.args, got, tc.want)
		}
	}
}

func TestAgentHelpMentionsAgentList(t *testing.T) {
	cmds := commands()
	mentionClientVerbs(cmds)
	for _, c := range cmds {
		if c.name == "agent" && !strings.Contains(c.usage, "corral agent list") {
			t.Errorf("agent usage = %q; want it to mention 'corral agent list'", c.usage)
		}
	}
}
