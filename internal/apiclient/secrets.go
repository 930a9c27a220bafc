package apiclient

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SecretMeta is what the master tells of a stored secret: never its value,
// which no API returns.
type SecretMeta struct {
	// Name is the secret's name, without a leading slash.
	Name string `json:"name"`
	// Version is 1 when the secret was created, bumped by every put.
	Version int64 `json:"version"`
	// Size is the length of the value in bytes.
	Size int `json:"size"`
	// Created and Updated are when the secret was created and its value
	// last written.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// SecretPath is the master's API path of a secret name ("team/db" and
// "/team/db" are both "/secrets/team/db"); each component is escaped, so
// a name the master would refuse reaches it as given, to be refused there.
func SecretPath(name string) string {
	parts := strings.Split(strings.TrimPrefix(name, "/"), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/secrets/" + strings.Join(parts, "/")
}

// SecretsPath is the path of the list of the secrets under prefix ("" for
// all).
func SecretsPath(prefix string) string {
	if prefix == "" {
		return "/secrets"
	}
	return "/secrets?" + url.Values{"prefix": {prefix}}.Encode()
}

// SecretBody is the body of a put: value as base64, so that any bytes
// travel unchanged.
func SecretBody(value []byte) map[string]string {
	return map[string]string{"value_base64": base64.StdEncoding.EncodeToString(value)}
}

// PutSecret stores value under name and returns the metadata written;
// created is true when the secret is new, false when its value was
// replaced. A master without --secrets_key answers 501; a bad name or
// value is a 422 naming the field.
func (m Master) PutSecret(ctx context.Context, name string, value []byte) (meta SecretMeta, created bool, err error) {
	path := SecretPath(name)
	resp, err := m.Do(ctx, http.MethodPut, path, SecretBody(value))
	if err != nil {
		return SecretMeta{}, false, err
	}
	err = m.Decode(path, resp.Body, &meta)
	return meta, resp.Status == http.StatusCreated, err
}

// SecretMetadata returns name's metadata; a missing secret is an *Error
// with status 404.
func (m Master) SecretMetadata(ctx context.Context, name string) (SecretMeta, error) {
	var out SecretMeta
	err := m.GetJSON(ctx, SecretPath(name), &out)
	return out, err
}

// Secrets returns the metadata of the secrets under prefix ("" for all;
// whole components: "team" lists team/db, not teams/db) that the caller
// may manage, sorted by name.
func (m Master) Secrets(ctx context.Context, prefix string) ([]SecretMeta, error) {
	var out []SecretMeta
	err := m.GetJSON(ctx, SecretsPath(prefix), &out)
	return out, err
}

// DeleteSecret removes name; a missing secret is an *Error with status
// 404.
func (m Master) DeleteSecret(ctx context.Context, name string) error {
	_, err := m.Do(ctx, http.MethodDelete, SecretPath(name), nil)
	return err
}
