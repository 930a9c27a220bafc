package task

import (
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

func TestSafeID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"plain", "web.1234-abcd", true},
		{"empty", "", false},
		{"slash", "a/b", false},
		{"dotdot", "..", false},
		{"dotdot inside", "a..b", false},
		{"dot", ".", false},
		{"nul", "a\x00b", false},
		{"max", strings.Repeat("x", 255), true},
		{"too long", strings.Repeat("x", 256), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := SafeID(tt.id); (err == nil) != tt.ok {
				t.Errorf("SafeID(%q) = %v; want ok=%v", tt.id, err, tt.ok)
			}
		})
	}
}

func cmd(v string) *mesos.CommandInfo { return &mesos.CommandInfo{Value: v} }

func TestValidate(t *testing.T) {
	no := false
	tests := []struct {
		name string
		ti   mesos.TaskInfo
		want string // substring of the error; "" = valid
	}{
		{"ok", mesos.TaskInfo{TaskID: mesos.ID{Value: "t1"}, Command: cmd("true")}, ""},
		{"slash id", mesos.TaskInfo{TaskID: mesos.ID{Value: "a/b"}, Command: cmd("true")}, "invalid task id"},
		{"executor and command", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: cmd("x")}, Command: cmd("x")}, "both command and executor"},
		{"executor", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}, Command: cmd("./x")}}, ""},
		{"executor without command", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "e"}}}, "executor has no command"},
		{"executor with a bad id", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ID{Value: "a/b"}, Command: cmd("./x")}}, "invalid executor id"},
		{"container", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Container: &mesos.ContainerInfo{Type: "DOCKER"}, Command: cmd("x")}, "image' is required"},
		{"secret volume", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"), Container: &mesos.ContainerInfo{Type: "MESOS",
			Volumes: []mesos.Volume{{ContainerPath: "conf/db", Mode: "RO", Source: &mesos.VolumeSource{Type: "SECRET", Secret: &mesos.Secret{Type: "REFERENCE", Reference: &mesos.SecretReference{Name: "db"}}}}}}}, ""},
		{"volume escapes", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"), Container: &mesos.ContainerInfo{
			Volumes: []mesos.Volume{{ContainerPath: "../db", Source: &mesos.VolumeSource{Type: "SECRET", Secret: &mesos.Secret{Type: "REFERENCE", Reference: &mesos.SecretReference{Name: "db"}}}}}}}, "clean path inside the sandbox"},
		{"host volume", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"), Container: &mesos.ContainerInfo{
			Volumes: []mesos.Volume{{ContainerPath: "data", HostPath: "/etc"}}}}, "only volumes whose source is a SECRET"},
		{"uris", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", URIs: []mesos.CommandURI{{Value: "http://x/a.tgz"}, {Value: "/opt/a"}}}}, ""},
		{"uri scheme", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", URIs: []mesos.CommandURI{{Value: "hdfs://x/a"}}}}, `invalid command.uris: URI "hdfs://x/a": scheme "hdfs" is not supported`},
		{"uri output_file", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", URIs: []mesos.CommandURI{{Value: "http://x/a", OutputFile: "../a"}}}}, "leaves the sandbox"},
		{"no command", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}}, "no command"},
		{"empty shell", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("  ")}, "empty"},
		{"exec no value", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Shell: &no}}, "empty"},
		{"image's own command", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Shell: &no},
			Container: &mesos.ContainerInfo{Type: "DOCKER", Docker: &mesos.DockerInfo{Image: "x"}}}, ""},
		{"health check ok", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"),
			HealthCheck: &mesos.HealthCheck{Type: "TCP", TCP: &mesos.TCPCheckInfo{Port: 80}}}, ""},
		{"health check port 0", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"),
			HealthCheck: &mesos.HealthCheck{Type: "HTTP", HTTP: &mesos.HTTPCheckInfo{}}}, "invalid health_check: http.port"},
		{"health check type", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: cmd("x"),
			HealthCheck: &mesos.HealthCheck{Type: "PING"}}, "invalid health_check: type"},
		{"user", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "nobody"}}, ""},
		{"user with domain", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: `CORP\svc-build`}}, ""},
		{"user blank", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "  "}}, "invalid command.user: user name is blank"},
		{"user colon", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "a:b"}}, "invalid command.user"},
		{"user slash", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "../root"}}, "invalid command.user"},
		{"user newline", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "a\nb"}}, "invalid command.user"},
		{"user nul", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: "a\x00"}}, "invalid command.user"},
		{"user too long", mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: &mesos.CommandInfo{Value: "x", User: strings.Repeat("u", 257)}}, "longer than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate("fw-1", &tt.ti)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v; want error containing %q", err, tt.want)
			}
		})
	}
}

func TestArgv(t *testing.T) {
	no := false
	got := Argv(&mesos.CommandInfo{Shell: &no, Value: "/bin/echo", Arguments: []string{"echo", "a", "b"}})
	if strings.Join(got, " ") != "/bin/echo a b" {
		t.Errorf("Argv(exec) = %q; want [/bin/echo a b]", got)
	}
	got = Argv(cmd("echo hi"))
	if strings.Join(got, "|") != "/bin/sh|-c|echo hi" {
		t.Errorf("Argv(shell) = %q", got)
	}
}

func TestEnv(t *testing.T) {
	ti := &mesos.TaskInfo{
		TaskID: mesos.ID{Value: "t1"},
		Resources: []mesos.Resource{
			{Name: "ports", Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: []mesos.Range{{Begin: 31005, End: 31006}, {Begin: 31001, End: 31001}}}},
		},
		Command: &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: []mesos.Variable{{Name: "FOO", Value: "bar"}, {Name: "HOME", Value: "/h"}}}},
	}
	env := Env(ti, EnvInput{FrameworkID: "fw", AgentID: "ag", Sandbox: "/sb", AgentEndpoint: "h:5051", Hostname: "h"})
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			t.Errorf("Env has %s twice", k)
		}
		m[k] = v
	}
	want := map[string]string{
		"PORT0": "31005", "PORT1": "31006", "PORT2": "31001", "PORTS": "31005,31006,31001", "PORT": "31005", "PORT_31001": "31001",
		"FOO": "bar", "HOME": "/h", "MESOS_SANDBOX": "/sb", "CORRAL_TASK_ID": "t1", "MESOS_FRAMEWORK_ID": "fw",
		"CORRAL_AGENT_ID": "ag", "MESOS_AGENT_ENDPOINT": "h:5051", "HOST": "h", "MESOS_DIRECTORY": "/sb",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("Env()[%s] = %q; want %q", k, m[k], v)
		}
	}
}

func TestUser(t *testing.T) {
	tests := []struct {
		name    string
		command *mesos.CommandInfo
		fw      *mesos.FrameworkInfo
		want    string
	}{
		{"command wins", &mesos.CommandInfo{Value: "x", User: "alice"}, &mesos.FrameworkInfo{User: "bob"}, "alice"},
		{"framework when command has none", cmd("x"), &mesos.FrameworkInfo{User: "bob"}, "bob"},
		{"neither", cmd("x"), &mesos.FrameworkInfo{}, ""},
		{"no framework info", cmd("x"), nil, ""},
		{"no command", nil, &mesos.FrameworkInfo{User: "bob"}, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti := &mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: tt.command}
			if got := User(ti, tt.fw); got != tt.want {
				t.Errorf("User() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestEnvUser(t *testing.T) {
	override := &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: []mesos.Variable{{Name: "HOME", Value: "/h"}}}}
	tests := []struct {
		name    string
		command *mesos.CommandInfo
		in      EnvInput
		want    map[string]string // "" = unset
	}{
		{"agent's own user", cmd("x"), EnvInput{Sandbox: "/sb"}, map[string]string{"HOME": "/sb", "USER": "", "LOGNAME": ""}},
		{"switched user", cmd("x"), EnvInput{Sandbox: "/sb", User: "nobody", Home: "/nonexistent"},
			map[string]string{"HOME": "/nonexistent", "USER": "nobody", "LOGNAME": "nobody"}},
		{"user without home", cmd("x"), EnvInput{Sandbox: "/sb", User: "svc"}, map[string]string{"HOME": "/sb", "USER": "svc", "LOGNAME": "svc"}},
		{"command overrides home", override, EnvInput{Sandbox: "/sb", User: "nobody", Home: "/nonexistent"},
			map[string]string{"HOME": "/h", "USER": "nobody"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for _, kv := range Env(&mesos.TaskInfo{TaskID: mesos.ID{Value: "t"}, Command: tt.command}, tt.in) {
				k, v, _ := strings.Cut(kv, "=")
				if _, dup := m[k]; dup {
					t.Errorf("Env has %s twice", k)
				}
				m[k] = v
			}
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("Env()[%s] = %q; want %q", k, m[k], v)
				}
			}
		})
	}
}

func TestCheckEnv(t *testing.T) {
	ti := &mesos.TaskInfo{
		TaskID:  mesos.ID{Value: "t1"},
		Command: &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: []mesos.Variable{{Name: "A", Value: "task"}, {Name: "B", Value: "task"}, ref("TS", "t")}}},
		HealthCheck: &mesos.HealthCheck{Type: "COMMAND", Command: &mesos.CommandInfo{Value: "true",
			Environment: &mesos.Environment{Variables: []mesos.Variable{{Name: "B", Value: "check"}, ref("CS", "c"), ref("GONE", "g")}}}},
	}
	m := map[string]string{}
	for _, kv := range CheckEnv(ti, EnvInput{Sandbox: "/sb", Secrets: Secrets{"TS": "task-secret"}}, Secrets{"CS": "check-secret"}) {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			t.Errorf("CheckEnv has %s twice", k)
		}
		m[k] = v
	}
	for k, v := range map[string]string{"A": "task", "B": "check", "MESOS_SANDBOX": "/sb", "CORRAL_TASK_ID": "t1",
		"TS": "task-secret", "CS": "check-secret"} {
		if m[k] != v {
			t.Errorf("CheckEnv()[%s] = %q; want %q", k, m[k], v)
		}
	}
	if v, ok := m["GONE"]; ok {
		t.Errorf("CheckEnv() has GONE=%q, a secret variable without a value; want it left out", v)
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name   string
		exit   Exit
		killed bool
		state  mesos.TaskState
		reason string
		msg    string
	}{
		{"success", Exit{Code: 0}, false, mesos.TaskFinished, "", "status 0"},
		{"failure", Exit{Code: 3}, false, mesos.TaskFailed, mesos.ReasonCommandExecutorFailed, "Command exited with status 3"},
		{"signal", Exit{Code: 137}, false, mesos.TaskFailed, mesos.ReasonCommandExecutorFailed, "signal SIGKILL"},
		{"killed", Exit{Code: 143}, true, mesos.TaskKilled, "", "killed"},
		{"oom", Exit{Code: 137, OOM: true}, false, mesos.TaskFailed, mesos.ReasonContainerLimitationMem, "more than 32 MB"},
		{"unknown", Exit{Kind: Unknown}, false, mesos.TaskFailed, mesos.ReasonExecutorTerminated, "unknown"},
		{"unknown killed", Exit{Kind: Unknown}, true, mesos.TaskKilled, "", "killed"},
		{"not started", Exit{Kind: NotStarted}, false, mesos.TaskFailed, mesos.ReasonContainerLaunchFailed, "did not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Outcome(tt.exit, tt.killed, 32)
			if v.State != tt.state || v.Reason != tt.reason || !strings.Contains(v.Message, tt.msg) {
				t.Errorf("Outcome(%+v, %v) = %+v; want %s %s %q", tt.exit, tt.killed, v, tt.state, tt.reason, tt.msg)
			}
		})
	}
}

func TestGracePeriod(t *testing.T) {
	ti := &mesos.TaskInfo{KillPolicy: &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: mesos.Int(2 * time.Second)}}}
	if g := GracePeriod(0, ti, 5*time.Second); g != 2*time.Second {
		t.Errorf("GracePeriod(policy) = %v; want 2s", g)
	}
	if g := GracePeriod(time.Second, ti, 5*time.Second); g != time.Second {
		t.Errorf("GracePeriod(kill) = %v; want 1s", g)
	}
	if g := GracePeriod(0, &mesos.TaskInfo{}, 5*time.Second); g != 5*time.Second {
		t.Errorf("GracePeriod(default) = %v; want 5s", g)
	}
}

func TestLogLimits(t *testing.T) {
	env := func(vars ...mesos.Variable) *mesos.TaskInfo {
		return &mesos.TaskInfo{Command: &mesos.CommandInfo{Value: "x", Environment: &mesos.Environment{Variables: vars}}}
	}
	def := LogLimit{MaxSize: 10 << 20, MaxFiles: 5}
	out, errs, err := LogLimits(env(mesos.Variable{Name: EnvMaxStdoutSize, Value: "2MB"}, mesos.Variable{Name: EnvStderrRotateOpts, Value: "rotate 9"}), def)
	if err != nil || out != (LogLimit{MaxSize: 2 << 20, MaxFiles: 5}) || errs != (LogLimit{MaxSize: 10 << 20, MaxFiles: 10}) {
		t.Errorf("LogLimits = %+v %+v %v; want stdout 2 MB × 5, stderr 10 MB × 10", out, errs, err)
	}
	for _, bad := range []mesos.Variable{
		{Name: EnvMaxStdoutSize, Value: "lots"},
		{Name: EnvMaxStderrSize, Value: "100"},
		{Name: EnvStdoutRotateOpts, Value: "compress"},
		{Name: EnvStdoutRotateOpts, Value: "rotate -1"},
	} {
		if _, _, err := LogLimits(env(bad), def); err == nil || !strings.Contains(err.Error(), bad.Name) {
			t.Errorf("LogLimits(%s=%q) = %v; want an error naming the variable", bad.Name, bad.Value, err)
		}
	}
}
