package runner

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// User is an OS user a task runs as: the identity its wrapper and command
// get (uid, primary gid, supplementary groups) and what its environment
// says about it (name, home).
type User struct {
	Name   string
	UID    uint32
	GID    uint32   // primary group
	Groups []uint32 // supplementary groups, as in the group database
	Home   string
}

// NoUserError says that a user named for a task does not exist on this
// host. Its message is meant for the framework.
type NoUserError struct{ Name string }

func (e *NoUserError) Error() string {
	return fmt.Sprintf("user %q does not exist on this agent", e.Name)
}

// SwitchError says that the agent cannot run a task as another user
// because it is not root. Its message is meant for the framework.
type SwitchError struct {
	Name     string
	UID      uint32 // the task's user
	AgentUID int    // the agent's effective uid
}

func (e *SwitchError) Error() string {
	return fmt.Sprintf("cannot run the task as user %q (uid %d): the agent runs as uid %d, not as root, so it cannot switch users; run the agent as root or with --switch_user=false",
		e.Name, e.UID, e.AgentUID)
}

// LookupUser resolves name in the host's user and group databases (one
// lookup of the user, one of its groups). A user that does not exist is a
// *NoUserError.
func LookupUser(name string) (*User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, &NoUserError{Name: name}
		}
		return nil, fmt.Errorf("looking up user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q is not a number", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q is not a number", name, u.Gid)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("looking up the groups of user %q: %w", name, err)
	}
	groups := make([]uint32, 0, len(ids))
	for _, s := range ids {
		g, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %q: group id %q is not a number", name, s)
		}
		groups = append(groups, uint32(g))
	}
	return &User{Name: name, UID: uint32(uid), GID: uint32(gid), Groups: groups, Home: u.HomeDir}, nil
}

// CanRunAs reports whether the runner can start a process as u: always
// as root, otherwise only as the runner's own uid (a *SwitchError). A nil
// u is the runner's own user.
func (r *Runner) CanRunAs(u *User) error {
	_, err := credential(u, r.euid)
	return err
}

// credential returns the credential a process of u is started with by an
// agent of effective uid euid: nil when no switch is needed (no user, or a
// non-root agent's own uid, whose groups stay the agent's since only root
// may set them). Root always sets all of uid, gid and groups, so a task of
// root's own uid does not inherit the agent's groups either.
func credential(u *User, euid int) (*syscall.Credential, error) {
	switch {
	case u == nil:
		return nil, nil
	case euid == 0:
		return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}, nil
	case int64(u.UID) == int64(euid):
		return nil, nil
	}
	return nil, &SwitchError{Name: u.Name, UID: u.UID, AgentUID: euid}
}
