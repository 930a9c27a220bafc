// Package taskuser decides which OS user a framework's tasks run as when
// neither the framework's flags nor the app or job say.
package taskuser

import "os/user"

// Default is the user tasks run as by default: the user running the
// framework, as Marathon's --mesos_user defaults to, except that a
// framework run as root gets "nobody": tasks as root are what an attacker
// who reaches the API wants, and need an explicit --user root (and a
// run_tasks ACL that allows it).
func Default() string {
	return pick(user.Current())
}

func pick(u *user.User, err error) string {
	if err != nil || u.Username == "" || u.Uid == "0" || u.Username == "root" {
		return "nobody"
	}
	return u.Username
}
