package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// maxSecretValue is the largest value the master's secret store holds
// (64 KiB): `secret put` reads no more of stdin than one byte beyond it.
const maxSecretValue = 64 << 10

// secretView is a secret's metadata as the verbs read it.
type secretView = apiclient.SecretMeta

func secretVerbs() []*verb {
	return []*verb{
		{
			group: "secret", name: "put", args: "NAME [VALUE|-]", minArgs: 1, maxArgs: 2,
			summary: "store a secret's value in the master, creating or replacing it",
			about: `Sends PUT /secrets/NAME. The value is VALUE, or, when VALUE is - or
left out, what stdin holds, byte for byte: binary is fine, and a final
newline is kept (printf '%s' … | corral secret put NAME leaves it out).
A VALUE on the command line is visible to the other users of this
machine (ps, shell history); the verb warns about it on stderr.

A name is a path such as team/db (a leading / is optional): components
of A-Z, a-z, 0-9, '.', '_' and '-', at most 255 bytes in all. A value is
at most 64 KiB. The master keeps it sealed with its --secrets_key and
hands it only to the tasks that reference NAME: no verb or API reads it
back. Prints whether the secret was created or replaced, its version
and its size.`,
			uses: useMaster, jsonDoc: "print the secret's metadata as the master answers it (never the value)",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return secretPut
			},
		},
		{
			group: "secret", name: "get-metadata", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "show a secret's metadata: version, size, when created and updated",
			about: `Sends GET /secrets/NAME. A secret's value cannot be read back, by this
or any other verb: only the tasks that reference it receive it.`,
			uses: useMaster, jsonDoc: "print the API's answer to GET /secrets/NAME",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return secretMetadata
			},
		},
		{
			watchable: true, group: "secret", name: "list", args: "[PREFIX]", maxArgs: 1,
			summary: "list the secrets (metadata only), all or those under a prefix",
			about: `Sends GET /secrets?prefix=PREFIX. One row per secret the caller may
manage, sorted by name: its name, version, size and when it was created
and last updated. A prefix is matched by whole components: team lists
team/db but not teams/db.`,
			uses: useMaster, jsonDoc: "print the API's answer to GET /secrets",
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return secretList
			},
		},
		{
			group: "secret", name: "delete", args: "NAME", minArgs: 1, maxArgs: 1,
			summary: "delete a secret",
			about: `Sends DELETE /secrets/NAME. The value is gone for good: there is no
undo, and no copy to read it back from.`,
			uses: useMaster,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return secretDelete
			},
		},
	}
}

// secretValue returns the value `secret put` stores: the argument, or
// stdin when it is "-" or absent. It warns on stderr about a value on the
// command line and about a single line read from stdin with its newline.
func secretValue(r *runner) ([]byte, error) {
	if len(r.args) == 2 && r.args[1] != "-" {
		fmt.Fprintf(r.errw, "warning: a value given on the command line is visible to the other users of this machine (ps, shell history); give - and pass it on stdin instead\n")
		return []byte(r.args[1]), nil
	}
	if f, ok := r.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(r.errw, "reading the value of %s from the terminal; end it with Ctrl-D\n", r.args[0])
		}
	}
	value, err := io.ReadAll(io.LimitReader(r.stdin, maxSecretValue+1))
	if err != nil {
		return nil, fmt.Errorf("reading the value from stdin: %w", err)
	}
	if len(value) > maxSecretValue {
		return nil, failf("value: stdin holds more than %d bytes; a secret's value is at most 64 KiB", maxSecretValue)
	}
	if i := bytes.IndexByte(value, '\n'); i >= 0 && i == len(value)-1 {
		fmt.Fprintf(r.errw, "note: the value ends with a newline, which is stored as part of it (printf '%%s' leaves it out)\n")
	}
	return value, nil
}

func secretPut(ctx context.Context, r *runner) error {
	value, err := secretValue(r)
	if err != nil {
		return err
	}
	path := apiclient.SecretPath(r.args[0])
	resp, err := r.master.do(ctx, http.MethodPut, path, apiclient.SecretBody(value))
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var m secretView
	if err := decode("master", path, resp.Body, &m); err != nil {
		return err
	}
	what := "replaced"
	if resp.Status == http.StatusCreated {
		what = "created"
	}
	_, err = fmt.Fprintf(r.out, "%s secret %s (version %d, %s)\n", what, m.Name, m.Version, bytesText(m.Size))
	return err
}

// renderSecret is the text of `secret get-metadata` (pure).
func renderSecret(m secretView) string {
	var k kv
	k.add("Name", m.Name)
	k.add("Version", fmt.Sprint(m.Version))
	k.add("Size", bytesText(m.Size))
	k.add("Created", stampTime(m.Created))
	k.add("Updated", stampTime(m.Updated))
	return k.String()
}

func secretMetadata(ctx context.Context, r *runner) error {
	path := apiclient.SecretPath(r.args[0])
	resp, err := r.master.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var m secretView
	if err := decode("master", path, resp.Body, &m); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, renderSecret(m))
	return err
}

// secretTable renders `secret list` in the order given (pure).
func secretTable(ms []secretView) string {
	t := newTable("NAME", "VERSION", "SIZE", "CREATED", "UPDATED")
	for _, m := range ms {
		t.add(m.Name, fmt.Sprint(m.Version), bytesText(m.Size), stampTime(m.Created), stampTime(m.Updated))
	}
	return t.String()
}

func secretList(ctx context.Context, r *runner) error {
	prefix := ""
	if len(r.args) == 1 {
		prefix = r.args[0]
	}
	path := apiclient.SecretsPath(prefix)
	resp, err := r.master.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if r.json {
		return indentJSON(r.out, resp.Body)
	}
	var ms []secretView
	if err := decode("master", path, resp.Body, &ms); err != nil {
		return err
	}
	_, err = io.WriteString(r.out, secretTable(ms))
	return err
}

func secretDelete(ctx context.Context, r *runner) error {
	if _, err := r.master.do(ctx, http.MethodDelete, apiclient.SecretPath(r.args[0]), nil); err != nil {
		return err
	}
	_, err := fmt.Fprintf(r.out, "deleted secret %s\n", strings.TrimPrefix(r.args[0], "/"))
	return err
}

// bytesText is a size for people: "1 byte", "12 bytes".
func bytesText(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// stampTime is stamp of a decoded timestamp; "" for none.
func stampTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Truncate(time.Second).Format(time.RFC3339)
}
