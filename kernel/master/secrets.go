package master

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/internal/acl"
	"corral/internal/edge"
	"corral/internal/lead"
	"corral/internal/pg"
	"corral/kernel/internal/secrets"
)

// The secret store's routes on the leading master (package secrets keeps
// the values, sealed with --secrets_key):
//
//	PUT    /secrets/{name...}   store a value: body {"value": "…"} (text) or
//	                            {"value_base64": "…"} (any bytes); 201 when
//	                            created, 200 when replaced, with the metadata
//	GET    /secrets?prefix=P    the metadata of the secrets under P (whole
//	                            components; none: all), sorted by name
//	GET    /secrets/{name...}   one secret's metadata
//	DELETE /secrets/{name...}   204; 404 when there is no such secret
//
// No route returns a value, on purpose: a value given to corral goes only
// to the tasks that reference it (Marathon's API handed secrets back in
// plain text, marathon#2295), through the SECRETS call of the agent that
// runs the task (agentapi.go, agentproto.SecretsRequest). Other methods answer 405 saying so.
//
// Names are paths ("team/db", or "/team/db": the leading slash is
// optional and not kept); see package secrets for the rules and limits.
// Every route needs manage_secrets for the name, as stored ("team/db");
// the list leaves out the secrets the caller may not manage.
// Errors are JSON {"message": "…"} naming the field at fault: 422 for a
// bad name, prefix or value, 400 for a body that is not JSON. Without
// --secrets_key every route answers 501 saying so.

// maxSecretBody bounds a PUT body: a 64 KiB value in base64, or as a JSON
// string escaped at worst six characters a byte.
const maxSecretBody = 6*secrets.MaxValueBytes + 4096

// SecretMeta is what the secret routes tell of a secret: never its value.
type SecretMeta struct {
	// Name is the secret's name without a leading slash.
	Name string `json:"name"`
	// Version is 1 when the secret was created, bumped by every PUT.
	Version int64 `json:"version"`
	// Size is the length of the value in bytes.
	Size int `json:"size"`
	// Created and Updated are when the secret was created and its value
	// last written.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func secretMeta(m secrets.Meta) SecretMeta {
	return SecretMeta{Name: m.Name, Version: m.Version, Size: m.Size, Created: m.Created, Updated: m.Updated}
}

// secretAuthorizer decides whether principal ("" for an anonymous caller)
// may manage (write, delete, see the metadata of) the secret name, given
// without a leading slash. A non-nil error refuses, and its text is shown
// to the caller.
type secretAuthorizer interface {
	Check(principal, name string) error
}

// secretACLs is manage_secrets of the master's ACLs (nil ACLs allow all).
// The object is the name as stored, without a leading slash ("team/db"),
// the form the services framework references secrets by for use_secrets,
// so that one ACL value ("team") covers both actions.
type secretACLs struct{ acls *acl.ACLs }

func (a secretACLs) Check(principal, name string) error {
	return a.acls.Check(acl.ManageSecrets, principal, name)
}

// authorizeSecret is the core's AuthorizeSecret, and the check the
// agents' SECRETS calls repeat: use_secrets decides which stored secrets
// a framework's principal may give its tasks, by the name as the task
// references it.
func authorizeSecret(a *acl.ACLs) func(principal, name string) error {
	return func(principal, name string) error { return a.Check(acl.UseSecrets, principal, name) }
}

// ValidateSecrets reads the key files of SecretsKey and
// SecretsPreviousKeys and returns an error naming the flag and the file
// of the first that is missing or not a key, or previous keys given
// without a current one. With neither set it returns nil: the store is
// off.
func (c Config) ValidateSecrets() error {
	_, err := loadSecretKeys(c)
	return err
}

// loadSecretKeys reads cfg's keyring; nil without SecretsKey.
func loadSecretKeys(cfg Config) (*secrets.Keyring, error) {
	if cfg.SecretsKey == "" {
		if len(cfg.SecretsPreviousKeys) > 0 {
			return nil, errors.New("secrets_previous_keys: given without --secrets_key; previous keys only open values while a current key seals new ones")
		}
		return nil, nil
	}
	cur, err := secrets.LoadKey(cfg.SecretsKey)
	if err != nil {
		return nil, fmt.Errorf("secrets_key: %w", err)
	}
	var prev []secrets.Key
	for _, p := range cfg.SecretsPreviousKeys {
		k, err := secrets.LoadKey(p)
		if err != nil {
			return nil, fmt.Errorf("secrets_previous_keys: %w", err)
		}
		prev = append(prev, k)
	}
	return secrets.NewKeyring(cur, prev...), nil
}

// secretAPI is the secret store of one master and serves its routes.
// It is made with the Master (New) and opened when the master leads
// (lead, from recover): the store fences its writes with the term the
// master began, and is closed when the master's loop stops. Both the
// secret routes and the agents' SECRETS calls use it.
type secretAPI struct {
	m     *Master
	log   *slog.Logger
	authz secretAuthorizer
	keys  *secrets.Keyring
	// off, when set, is the answer to every request: the store is not
	// configured, or its key files cannot be read.
	off error

	// store and err are set by lead before the master counts as
	// recovered (Master.recovered), and never change after: a handler
	// that has seen the master recovered reads them without a lock.
	store *secrets.Store
	err   error
}

// secretRoutes adds the secret store's routes to the leading master's
// router.
func (m *Master) secretRoutes(r chi.Router) {
	r.HandleFunc("/secrets", m.secrets.handleCollection)
	r.HandleFunc("/secrets/*", m.secrets.handleSecret)
}

func newSecretAPI(m *Master, authz secretAuthorizer) *secretAPI {
	sa := &secretAPI{m: m, log: m.log.With("api", "secrets"), authz: authz}
	if m.cfg.SecretsKey == "" {
		sa.off = errorf(http.StatusNotImplemented,
			"The master was started without --secrets_key, so it keeps no secrets: start it with --secrets_key FILE, a file holding %s", secrets.KeyFormat)
		return sa
	}
	keys, err := loadSecretKeys(m.cfg)
	if err != nil {
		sa.log.Error("the secret store is off: its keys cannot be read", "err", err)
		sa.off = edge.Unavailable("The master's secret store is unavailable: its --secrets_key or --secrets_previous_keys file cannot be read; the master's log says why", err)
		return sa
	}
	sa.keys = keys
	return sa
}

// lead opens the store for the master's term, which recover has begun;
// it runs once, on the leading master, before the master counts as
// recovered. The store is closed when the master's loop stops. With
// previous keys, it also re-encrypts the store under the current key in
// the background, and logs what it did.
func (sa *secretAPI) lead() {
	if sa.off != nil {
		return
	}
	// Open does not connect: it fails only for a malformed URL.
	sa.store, sa.err = secrets.Open(context.Background(), sa.m.cfg.DB, sa.keys, sa.m.store.Fence())
	if sa.err != nil {
		sa.log.Error("the secret store cannot be opened", "err", sa.err)
		return
	}
	store := sa.store
	go func() {
		<-sa.m.stopped
		store.Close()
	}()
	if len(sa.keys.Previous()) > 0 {
		go sa.rotate(store)
	}
}

// rotate re-encrypts every value under the current key, retrying while
// the database is away, until done, refused, or the master stops.
func (sa *secretAPI) rotate(store *secrets.Store) {
	backoff := time.Second
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := store.Rotate(ctx)
		cancel()
		switch {
		case err == nil:
			sa.log.Info("secrets rotated: every value is sealed under the current key; the previous keys may be dropped once every master has this one",
				"rotated", r.Rotated, "key", sa.keys.Current().String())
			return
		case errors.Is(err, secrets.ErrUndecryptable), errors.Is(err, lead.ErrFenced):
			sa.log.Error("secrets rotation incomplete", "rotated", r.Rotated, "left", r.Failed, "err", err)
			return
		}
		sa.log.Warn("cannot rotate the secrets yet; retrying", "rotated", r.Rotated, "err", err, "in", backoff)
		select {
		case <-sa.m.stopped:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// ready returns the store, or answers why it cannot be used and returns
// false.
func (sa *secretAPI) ready(w http.ResponseWriter, r *http.Request) (*secrets.Store, bool) {
	if !sa.m.recovered.Load() {
		w.Header().Set("Retry-After", "1")
		sa.fail(w, r, "", errorf(http.StatusServiceUnavailable, "The master is still recovering its registry; retry shortly"))
		return nil, false
	}
	select {
	case <-sa.m.stopped:
		sa.fail(w, r, "", errStopped)
		return nil, false
	default:
	}
	if sa.err != nil {
		sa.fail(w, r, "", edge.Unavailable("The master's secret store cannot be opened; the master's log says why", sa.err))
		return nil, false
	}
	return sa.store, true
}

// forTasks returns the store for handing values to tasks, or an error to
// answer the agent with: always a 503, the store being off included, so
// that the agent says why in the task's failure (after retrying).
func (sa *secretAPI) forTasks() (*secrets.Store, error) {
	var ae *apiError
	switch {
	case errors.As(sa.off, &ae):
		return nil, errorf(http.StatusServiceUnavailable, "The master keeps no secrets: it was started without --secrets_key")
	case sa.off != nil:
		return nil, sa.off
	case sa.err != nil:
		return nil, edge.Unavailable("The master's secret store cannot be opened; the master's log says why", sa.err)
	}
	select {
	case <-sa.m.stopped:
		return nil, errorf(http.StatusServiceUnavailable, "Master is stopping")
	default:
	}
	return sa.store, nil
}

// secretGetError is the answer to an agent for a value of the secret
// name, referenced by task, that the store did not give: the secret does
// not exist (any more), its name is not one, or the store is unreachable
// or cannot decrypt it. The message names the secret and the task; the
// cause, logged, holds no value either.
func secretGetError(name, task string, err error) error {
	var inv *secrets.InvalidError
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return errorf(http.StatusNotFound, "Secret '%s' referenced by task '%s' does not exist: it was never stored or has been deleted", name, task)
	case errors.As(err, &inv):
		return errorf(http.StatusUnprocessableEntity, "Secret '%s' referenced by task '%s' is not a valid secret name: %v", name, task, inv)
	case errors.Is(err, secrets.ErrUndecryptable), pg.DataError(err):
		return &edge.Error{Status: http.StatusInternalServerError, Cause: err,
			Message: fmt.Sprintf("Secret '%s' referenced by task '%s' cannot be read: the master's log says why", name, task)}
	}
	return edge.Unavailable(fmt.Sprintf("The secret store's database cannot be reached to read secret '%s' referenced by task '%s'; retry shortly", name, task), err)
}

// name returns the request's secret name, normalized and authorized, or
// answers why not and returns false.
func (sa *secretAPI) name(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, err := secrets.Normalize(strings.TrimPrefix(r.URL.Path, "/secrets/"))
	if err != nil {
		sa.fail(w, r, "", err)
		return "", false
	}
	if err := sa.authz.Check(edge.Principal(r.Context()), name); err != nil {
		sa.fail(w, r, name, errorf(http.StatusForbidden, "%v", err))
		return "", false
	}
	return name, true
}

// fail answers err as the secret routes do, {"message": "…"}: the one
// place their errors become statuses. name is the secret the request is
// about, for a 404.
func (sa *secretAPI) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	var (
		ae  *apiError
		ee  *edge.Error
		inv *secrets.InvalidError
	)
	code, msg := 0, ""
	switch {
	case errors.As(err, &ae):
		code, msg = ae.code, ae.msg
	case errors.As(err, &ee):
		code, msg = edge.Fail(r, err)
	case errors.As(err, &inv):
		code, msg = http.StatusUnprocessableEntity, inv.Error()
	case errors.Is(err, secrets.ErrNotFound):
		code, msg = http.StatusNotFound, fmt.Sprintf("No secret named %q", name)
	case errors.Is(err, lead.ErrFenced), errors.Is(err, errStopped):
		edge.Note(r, err)
		ae = notWritten(err).(*apiError)
		code, msg = ae.code, ae.msg
	case pg.DataError(err), errors.Is(err, secrets.ErrUndecryptable):
		code, msg = edge.Fail(r, edge.Internal(err))
	default:
		code, msg = edge.Fail(r, edge.Unavailable("The secret store's database cannot be reached; retry shortly", err))
	}
	writeMessage(w, code, msg)
}

// methodNotAllowed answers 405 with the methods path allows.
func (sa *secretAPI) methodNotAllowed(w http.ResponseWriter, r *http.Request, allow, msg string) {
	w.Header().Set("Allow", allow)
	sa.fail(w, r, "", errorf(http.StatusMethodNotAllowed, "Method %s is not allowed on %s: %s", r.Method, r.URL.Path, msg))
}

// handleCollection serves /secrets.
func (sa *secretAPI) handleCollection(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		sa.methodNotAllowed(w, r, "GET", "GET lists the secrets' metadata; PUT /secrets/NAME stores one")
		return
	}
	sa.list(w, r)
}

// handleSecret serves /secrets/{name...}. The caller's right to the name
// is checked before anything else is said about it, whether the store is
// on included.
func (sa *secretAPI) handleSecret(w http.ResponseWriter, r *http.Request) {
	var serve func(http.ResponseWriter, *http.Request, *secrets.Store, string)
	switch r.Method {
	case http.MethodGet:
		serve = sa.get
	case http.MethodPut:
		serve = sa.put
	case http.MethodDelete:
		serve = sa.delete
	default:
		sa.methodNotAllowed(w, r, "GET, PUT, DELETE",
			"PUT stores a value, GET returns the metadata, DELETE removes the secret. "+
				"A secret's value cannot be read back through the API: only the tasks that reference it receive it")
		return
	}
	name, ok := sa.name(w, r)
	if !ok {
		return
	}
	if sa.off != nil {
		sa.fail(w, r, name, sa.off)
		return
	}
	store, ok := sa.ready(w, r)
	if !ok {
		return
	}
	serve(w, r, store, name)
}

func (sa *secretAPI) list(w http.ResponseWriter, r *http.Request) {
	if sa.off != nil {
		sa.fail(w, r, "", sa.off)
		return
	}
	prefix := r.URL.Query().Get("prefix")
	if _, err := secrets.NormalizePrefix(prefix); err != nil {
		sa.fail(w, r, "", err)
		return
	}
	store, ok := sa.ready(w, r)
	if !ok {
		return
	}
	ms, err := store.List(r.Context(), prefix)
	if err != nil {
		sa.fail(w, r, "", err)
		return
	}
	principal := edge.Principal(r.Context())
	out := []SecretMeta{}
	for _, m := range ms {
		if sa.authz.Check(principal, m.Name) == nil {
			out = append(out, secretMeta(m))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (sa *secretAPI) get(w http.ResponseWriter, r *http.Request, store *secrets.Store, name string) {
	m, err := store.Metadata(r.Context(), name)
	if err != nil {
		sa.fail(w, r, name, err)
		return
	}
	writeJSON(w, http.StatusOK, secretMeta(m))
}

// secretBody is the body of PUT /secrets/{name...}: exactly one of its
// fields.
type secretBody struct {
	Value       *string `json:"value"`
	ValueBase64 *string `json:"value_base64"`
}

// value returns the bytes the body gives, or an *apiError naming the
// field at fault.
func (b secretBody) value() ([]byte, error) {
	switch {
	case b.Value != nil && b.ValueBase64 != nil:
		return nil, errorf(http.StatusUnprocessableEntity, "value, value_base64: give one of them, not both")
	case b.Value != nil:
		return []byte(*b.Value), nil
	case b.ValueBase64 != nil:
		v, err := base64.StdEncoding.DecodeString(*b.ValueBase64)
		if err != nil {
			return nil, errorf(http.StatusUnprocessableEntity, "value_base64: not valid base64 (standard alphabet, padded): %v", err)
		}
		return v, nil
	}
	return nil, errorf(http.StatusUnprocessableEntity, `value: required: give {"value": "<text>"}, or {"value_base64": "<base64>"} for any bytes`)
}

// decodeSecretBody reads a PUT body, or returns an *apiError saying what
// is wrong with it.
func decodeSecretBody(w http.ResponseWriter, r *http.Request) (secretBody, error) {
	var b secretBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSecretBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&b)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		if dec.More() {
			return b, errorf(http.StatusBadRequest, "body: more than one JSON value")
		}
		return b, nil
	case errors.As(err, &tooLarge):
		return b, errorf(http.StatusRequestEntityTooLarge, "body: larger than %d bytes; a secret's value is at most %d bytes", maxSecretBody, secrets.MaxValueBytes)
	case errors.Is(err, io.EOF):
		return b, errorf(http.StatusBadRequest, `body: empty; want {"value": "<text>"} or {"value_base64": "<base64>"}`)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return b, errorf(http.StatusUnprocessableEntity, `body: %s; want "value" or "value_base64"`, strings.TrimPrefix(err.Error(), "json: "))
	}
	return b, errorf(http.StatusBadRequest, "body: not a JSON object of the secret's value: %v", err)
}

func (sa *secretAPI) put(w http.ResponseWriter, r *http.Request, store *secrets.Store, name string) {
	b, err := decodeSecretBody(w, r)
	if err != nil {
		sa.fail(w, r, name, err)
		return
	}
	value, err := b.value()
	if err != nil {
		sa.fail(w, r, name, err)
		return
	}
	m, created, err := store.Put(r.Context(), name, value)
	if err != nil {
		sa.fail(w, r, name, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/secrets/"+m.Name)
	}
	writeJSON(w, code, secretMeta(m))
}

func (sa *secretAPI) delete(w http.ResponseWriter, r *http.Request, store *secrets.Store, name string) {
	if err := store.Delete(r.Context(), name); err != nil {
		sa.fail(w, r, name, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
