package task

import (
	"fmt"
	"strings"

	"corral/kernel/mesos"
)

// Secrets are the values of a task's SECRET environment variables, by
// variable name: what Env puts in the task's process environment
// (EnvInput.Secrets). The agent keeps them nowhere else: not in a
// checkpoint, a log or a status update.
type Secrets map[string]string

// SecretRefs returns the names of the stored secrets ti's command
// environment references, as it writes them, in order and without
// duplicates; none for a task without a command.
func SecretRefs(ti *mesos.TaskInfo) []string {
	if ti.Command == nil {
		return nil
	}
	return ti.Command.Environment.SecretRefs()
}

// SecretError says why a task's secret cannot be given to it. It names
// the variable and the secret, never a value, and is meant for the
// framework (the message of the task's TASK_FAILED).
type SecretError struct {
	// Var is the environment variable; Secret the stored secret it
	// references, "" for an inline one.
	Var, Secret string
	Problem     string
}

func (e *SecretError) Error() string {
	if e.Secret == "" {
		return fmt.Sprintf("environment variable %s: inline secret %s", e.Var, e.Problem)
	}
	return fmt.Sprintf("environment variable %s: secret %q %s", e.Var, e.Secret, e.Problem)
}

// ResolveSecrets returns the values of the SECRET variables of ti's
// command environment: an inline (VALUE) secret's data, and a REFERENCE's
// value from stored, the values the master gave for the names SecretRefs
// returns. It fails with a *SecretError for a reference stored does not
// hold, a value with a NUL byte (which no environment can carry), or a
// SECRET variable without a secret it can use.
func ResolveSecrets(ti *mesos.TaskInfo, stored map[string][]byte) (Secrets, error) {
	if ti.Command == nil || ti.Command.Environment == nil {
		return nil, nil
	}
	var out Secrets
	for _, v := range ti.Command.Environment.Variables {
		if v.Type != mesos.VariableSecret {
			continue
		}
		s := v.Secret
		var (
			value []byte
			name  string
		)
		switch {
		case s == nil:
			return nil, &SecretError{Var: v.Name, Problem: "is missing: a variable of type SECRET must set 'secret'"}
		case s.Type == mesos.SecretValueType && s.Value != nil:
			value = s.Value.Data
		case s.Type == mesos.SecretReferenceType && s.Reference != nil && s.Reference.Name != "":
			name = s.Reference.Name
			var ok bool
			if value, ok = stored[name]; !ok {
				return nil, &SecretError{Var: v.Name, Secret: name, Problem: "was not given by the master"}
			}
		default:
			return nil, &SecretError{Var: v.Name, Problem: fmt.Sprintf("of type %q cannot be resolved (want a REFERENCE with a name, or a VALUE)", s.Type)}
		}
		if strings.IndexByte(string(value), 0) >= 0 {
			return nil, &SecretError{Var: v.Name, Secret: name, Problem: "holds a NUL byte, which an environment variable cannot carry"}
		}
		if out == nil {
			out = Secrets{}
		}
		out[v.Name] = string(value)
	}
	return out, nil
}

// Redacted returns ti without the data of its inline (VALUE) secrets,
// for the agent's checkpoint: a task once started never needs them
// again, and references hold no value. ti itself is not changed; what
// Redacted does not change is shared with it.
func Redacted(ti *mesos.TaskInfo) *mesos.TaskInfo {
	if ti.Command == nil || ti.Command.Environment == nil {
		return ti
	}
	vars := ti.Command.Environment.Variables
	inline := false
	for _, v := range vars {
		if v.Type == mesos.VariableSecret && v.Secret != nil && v.Secret.Value != nil {
			inline = true
		}
	}
	if !inline {
		return ti
	}
	out := *ti
	cmd := *ti.Command
	env := *ti.Command.Environment
	env.Variables = make([]mesos.Variable, len(vars))
	for i, v := range vars {
		if v.Type == mesos.VariableSecret && v.Secret != nil && v.Secret.Value != nil {
			s := *v.Secret
			s.Value = &mesos.SecretValue{}
			v.Secret = &s
		}
		env.Variables[i] = v
	}
	cmd.Environment = &env
	out.Command = &cmd
	return &out
}
