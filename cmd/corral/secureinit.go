package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"corral/internal/devca"
	"corral/internal/devsecure"
)

func secureInitCommand() *command {
	var dir, hosts, owner string
	fs := flag.NewFlagSet("secure-init", flag.ContinueOnError)
	fs.StringVar(&dir, "dir", "", "directory to make the files in (required); files already there are kept")
	fs.StringVar(&hosts, "hosts", "", "comma-separated host names and addresses the server certificate covers, besides localhost, 127.0.0.1 and ::1")
	fs.StringVar(&owner, "owner", "", "user (name or uid) to give the files to, e.g. the user the servers run as; default the caller")
	c := &command{name: "secure-init", usage: "--dir DIR [flags]", fs: fs,
		summary: "make the files of a secured development cluster: credentials (ops, agent, services, jobs), ACLs, a secrets key, a local CA and certificates; for docker compose and scripts (corral dev --secure does it itself)"}
	c.run = func(args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		if dir == "" {
			return usageError{"dir: required"}
		}
		f, err := devsecure.Ensure(dir)
		if err != nil {
			return err
		}
		tf, err := devca.Ensure(filepath.Join(dir, "tls"), splitList(hosts), "ops", time.Now())
		if err != nil {
			return err
		}
		if owner != "" {
			if err := chownTree(dir, owner); err != nil {
				return err
			}
		}
		fmt.Printf("secured development files in %s (development only: whoever reads them holds the cluster)\n", dir)
		fmt.Printf("  credentials  %s (the operator's: %s)\n  ACLs         %s\n  secrets key  %s\n  CA           %s\n  certificate  %s, key %s\n",
			f.Credentials, f.Credential["ops"], f.ACLs, f.SecretsKey, tf.CA, tf.Cert, tf.Key)
		return nil
	}
	return c
}

// chownTree gives dir and everything in it to owner (a user name or uid)
// and that user's primary group.
func chownTree(dir, owner string) error {
	u, err := user.Lookup(owner)
	if err != nil {
		if u, err = user.LookupId(owner); err != nil {
			return usageError{fmt.Sprintf("owner: no user %q", owner)}
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
