package task

import (
	"fmt"
	"strings"

	"corral/kernel/mesos"
)

// Secrets are the values of SECRET environment variables, by variable
// name: what Env and CheckEnv put in a process's environment
// (EnvInput.Secrets, CheckEnv's checkSecrets). The agent keeps them in
// memory only: not in a checkpoint, a log or a status update.
type Secrets map[string]string

// SecretFile is the content of one secret volume: the file the agent
// gives the task at Path, relative to its sandbox.
type SecretFile struct {
	Path string
	Data []byte
	// Writable is the volume's mode RW: the task may change its copy.
	Writable bool
}

// Resolved are the values of every secret of a task (Resolve).
type Resolved struct {
	// Env are the command's SECRET variables, Check those of its health
	// check's command.
	Env, Check Secrets
	// Files are its secret volumes, in order.
	Files []SecretFile
}

// SecretError says why a task's secret cannot be given to it. It names
// where the task uses the secret and the secret, never a value, and is
// meant for the framework (the message of the task's TASK_FAILED).
type SecretError struct {
	// Where is the use: "environment variable DB", "health check
	// environment variable DB" or `secret volume "conf/db"`.
	Where string
	// Secret is the stored secret it references, "" for an inline one.
	Secret  string
	Problem string
}

func (e *SecretError) Error() string {
	if e.Secret == "" {
		return fmt.Sprintf("%s: inline secret %s", e.Where, e.Problem)
	}
	return fmt.Sprintf("%s: secret %q %s", e.Where, e.Secret, e.Problem)
}

// Resolve returns the values of all of ti's secrets: an inline (VALUE)
// secret's data, and a REFERENCE's value from stored, the values the
// master gave for the names SecretRefs returns. It fails with a
// *SecretError for a reference stored does not hold, a value with a NUL
// byte in an environment variable (which no environment can carry), or a
// secret it cannot use.
//
// With lenient, a secret that cannot be resolved is left out instead: for
// a task recovered from its checkpoint, whose inline values are redacted
// (Redacted), only the health check's variables are wanted, and a
// missing one must not stop the check.
func Resolve(ti *mesos.TaskInfo, stored map[string][]byte, lenient bool) (Resolved, error) {
	var (
		out Resolved
		err error
	)
	if ti.Command != nil {
		if out.Env, err = resolveVars("environment variable ", ti.Command.Environment, stored, lenient); err != nil {
			return Resolved{}, err
		}
	}
	if hc := ti.HealthCheck; hc != nil && hc.Command != nil {
		if out.Check, err = resolveVars("health check environment variable ", hc.Command.Environment, stored, lenient); err != nil {
			return Resolved{}, err
		}
	}
	for _, v := range ti.Container.SecretVolumes() {
		where := fmt.Sprintf("secret volume %q", v.ContainerPath)
		value, name, err := resolve(where, v.Source.Secret, stored)
		if err != nil {
			if lenient {
				continue
			}
			return Resolved{}, err
		}
		if p := mesos.SandboxPathProblem(v.ContainerPath); p != "" {
			return Resolved{}, &SecretError{Where: where, Secret: name, Problem: "cannot be written: the path " + p}
		}
		out.Files = append(out.Files, SecretFile{Path: v.ContainerPath, Data: value, Writable: v.Mode == mesos.VolumeRW})
	}
	return out, nil
}

// resolveVars resolves the SECRET variables of env; prefix starts each
// variable's description in errors.
func resolveVars(prefix string, env *mesos.Environment, stored map[string][]byte, lenient bool) (Secrets, error) {
	if env == nil {
		return nil, nil
	}
	var out Secrets
	for _, v := range env.Variables {
		if v.Type != mesos.VariableSecret {
			continue
		}
		value, name, err := resolve(prefix+v.Name, v.Secret, stored)
		if err == nil && strings.IndexByte(string(value), 0) >= 0 {
			err = &SecretError{Where: prefix + v.Name, Secret: name, Problem: "holds a NUL byte, which an environment variable cannot carry"}
		}
		if err != nil {
			if lenient {
				continue
			}
			return nil, err
		}
		if out == nil {
			out = Secrets{}
		}
		out[v.Name] = string(value)
	}
	return out, nil
}

// resolve returns the value of one secret, and the stored secret's name
// ("" for an inline one). where describes its use for the error.
func resolve(where string, s *mesos.Secret, stored map[string][]byte) (value []byte, name string, err error) {
	switch {
	case s == nil:
		return nil, "", &SecretError{Where: where, Problem: "is missing: a SECRET must set 'secret'"}
	case s.Type == mesos.SecretValueType && s.Value != nil && s.Value.Data != nil:
		return s.Value.Data, "", nil
	case s.Type == mesos.SecretValueType && s.Value != nil:
		return nil, "", &SecretError{Where: where, Problem: "has no data"}
	case s.Type == mesos.SecretReferenceType && s.Reference != nil && s.Reference.Name != "":
		name = s.Reference.Name
		value, ok := stored[name]
		if !ok {
			return nil, name, &SecretError{Where: where, Secret: name, Problem: "was not given by the master"}
		}
		return value, name, nil
	}
	return nil, "", &SecretError{Where: where, Problem: fmt.Sprintf("of type %q cannot be resolved (want a REFERENCE with a name, or a VALUE)", s.Type)}
}

// Redacted returns ti without the data of its inline (VALUE) secrets,
// wherever they are (command and health check environments, secret
// volumes), for the agent's checkpoint: a task once started never needs
// them again but for its health check (see Resolve's lenient), and
// references hold no value. The redacted secrets keep their type and an
// empty value with nil data. ti itself is not changed; what Redacted
// does not change is shared with it.
func Redacted(ti *mesos.TaskInfo) *mesos.TaskInfo {
	if !hasInline(ti) {
		return ti
	}
	out := *ti
	if ti.Command != nil {
		out.Command = redactCommand(ti.Command)
	}
	if ti.HealthCheck != nil && ti.HealthCheck.Command != nil {
		hc := *ti.HealthCheck
		hc.Command = redactCommand(hc.Command)
		out.HealthCheck = &hc
	}
	if c := ti.Container; c != nil && len(c.Volumes) > 0 {
		cc := *c
		cc.Volumes = make([]mesos.Volume, len(c.Volumes))
		for i, v := range c.Volumes {
			if v.Source != nil && hasValue(v.Source.Secret) {
				src := *v.Source
				src.Secret = redactSecret(src.Secret)
				v.Source = &src
			}
			cc.Volumes[i] = v
		}
		out.Container = &cc
	}
	return &out
}

// HasSecretVars reports whether ti's command or health check command
// has a SECRET environment variable.
func HasSecretVars(ti *mesos.TaskInfo) bool {
	has := func(c *mesos.CommandInfo) bool {
		if c == nil || c.Environment == nil {
			return false
		}
		for _, v := range c.Environment.Variables {
			if v.Type == mesos.VariableSecret {
				return true
			}
		}
		return false
	}
	return has(ti.Command) || (ti.HealthCheck != nil && has(ti.HealthCheck.Command))
}

// hasInline reports whether ti has an inline secret anywhere.
func hasInline(ti *mesos.TaskInfo) bool {
	envInline := func(c *mesos.CommandInfo) bool {
		if c == nil || c.Environment == nil {
			return false
		}
		for _, v := range c.Environment.Variables {
			if v.Type == mesos.VariableSecret && hasValue(v.Secret) {
				return true
			}
		}
		return false
	}
	if envInline(ti.Command) || (ti.HealthCheck != nil && envInline(ti.HealthCheck.Command)) {
		return true
	}
	for _, v := range ti.Container.SecretVolumes() {
		if hasValue(v.Source.Secret) {
			return true
		}
	}
	return false
}

// hasValue reports whether s carries a value.
func hasValue(s *mesos.Secret) bool { return s != nil && s.Value != nil }

// redactSecret returns a copy of s without its value's data.
func redactSecret(s *mesos.Secret) *mesos.Secret {
	r := *s
	r.Value = &mesos.SecretValue{}
	return &r
}

// redactCommand returns a copy of c whose inline secret variables have no
// data.
func redactCommand(c *mesos.CommandInfo) *mesos.CommandInfo {
	if c.Environment == nil {
		return c
	}
	out := *c
	env := *c.Environment
	env.Variables = make([]mesos.Variable, len(c.Environment.Variables))
	for i, v := range c.Environment.Variables {
		if v.Type == mesos.VariableSecret && hasValue(v.Secret) {
			v.Secret = redactSecret(v.Secret)
		}
		env.Variables[i] = v
	}
	out.Environment = &env
	return &out
}
