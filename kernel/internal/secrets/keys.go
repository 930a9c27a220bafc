package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// nonceSize is GCM's standard nonce length.
const nonceSize = 12

// KeyFormat says what a key file must hold, for error messages and help.
const KeyFormat = "32 random bytes written as 64 hex digits or as base64, on one line (make one with: openssl rand -hex 32)"

// keyIDLabel separates key ids from any other use of a SHA-256 of the key.
const keyIDLabel = "corral secrets key id\x00"

// aadLabel starts the additional data of every seal; the name follows.
const aadLabel = "corral secret v1\x00"

// ErrUndecryptable is returned (wrapped) by Get and Rotate for a row that
// cannot be opened: no key of the keyring has the id it was sealed under,
// or it does not authenticate under that key (the row was altered, or
// copied from another name).
var ErrUndecryptable = errors.New("cannot decrypt")

// KeyID identifies a key without revealing it: the first 8 bytes of a
// SHA-256 of the key. Its String is 16 hex digits.
type KeyID [8]byte

// String returns the id as 16 hex digits.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Key is one AES-256-GCM key with its id. It is safe for concurrent use.
type Key struct {
	id   KeyID
	aead cipher.AEAD
}

// ID returns the key's id.
func (k Key) ID() KeyID { return k.id }

// NewKey returns the key of raw, which must be KeySize bytes.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("a key is %d bytes, not %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256(append([]byte(keyIDLabel), raw...))
	var id KeyID
	copy(id[:], sum[:])
	return Key{id: id, aead: aead}, nil
}

// ParseKey reads a key file's contents: KeySize bytes as 64 hex digits or
// as base64 (standard or URL alphabet, padded or not), on one line;
// surrounding white space, such as the final newline, is ignored. Its
// errors describe the contents without quoting them.
func ParseKey(text []byte) (Key, error) {
	s := string(bytes.TrimSpace(text))
	switch {
	case s == "":
		return Key{}, fmt.Errorf("it is empty; want %s", KeyFormat)
	case strings.ContainsAny(s, "\r\n"):
		return Key{}, fmt.Errorf("it holds %d lines; want %s", strings.Count(s, "\n")+1, KeyFormat)
	}
	if raw, err := hex.DecodeString(s); err == nil {
		if len(raw) != KeySize {
			return Key{}, fmt.Errorf("it holds %d hex digits (%d bytes); want %s", len(s), len(raw), KeyFormat)
		}
		return NewKey(raw)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != KeySize {
				return Key{}, fmt.Errorf("it holds base64 of %d bytes; want %s", len(raw), KeyFormat)
			}
			return NewKey(raw)
		}
	}
	return Key{}, fmt.Errorf("its %d characters are neither hex nor base64; want %s", len(s), KeyFormat)
}

// LoadKey reads the key file at path; its errors name the file.
func LoadKey(path string) (Key, error) {
	// A key file is one short line: anything much longer is not one.
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("secrets key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Key{}, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	return k, nil
}

// Keyring is the current key, which seals every value written, and the
// previous keys, which only open values sealed before. It never changes
// once made, so it is safe for concurrent use.
type Keyring struct {
	current  Key
	previous []Key
}

// NewKeyring returns the keyring of current and previous. A previous key
// equal to the current one, or given twice, is kept once.
func NewKeyring(current Key, previous ...Key) *Keyring {
	kr := &Keyring{current: current}
	seen := map[KeyID]bool{current.id: true}
	for _, k := range previous {
		if !seen[k.id] {
			seen[k.id] = true
			kr.previous = append(kr.previous, k)
		}
	}
	return kr
}

// LoadKeyring reads the current key from the file current and the
// previous keys from the files previous. Its errors name the file.
func LoadKeyring(current string, previous []string) (*Keyring, error) {
	cur, err := LoadKey(current)
	if err != nil {
		return nil, err
	}
	var prev []Key
	for _, p := range previous {
		k, err := LoadKey(p)
		if err != nil {
			return nil, err
		}
		prev = append(prev, k)
	}
	return NewKeyring(cur, prev...), nil
}

// Current returns the id of the key that seals.
func (kr *Keyring) Current() KeyID { return kr.current.id }

// Previous returns the ids of the keys that only open, in the order given.
func (kr *Keyring) Previous() []KeyID {
	out := make([]KeyID, len(kr.previous))
	for i, k := range kr.previous {
		out[i] = k.id
	}
	return out
}

// aad is the additional data binding a ciphertext to name.
func aad(name string) []byte { return append([]byte(aadLabel), name...) }

// seal encrypts value for name under the current key with a fresh random
// nonce.
func (kr *Keyring) seal(name string, value []byte) (id KeyID, nonce, ciphertext []byte, err error) {
	nonce = make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return KeyID{}, nil, nil, fmt.Errorf("making a nonce: %w", err)
	}
	return kr.current.id, nonce, kr.current.aead.Seal(nil, nonce, value, aad(name)), nil
}

// open decrypts a row of name sealed under the key with id.
func (kr *Keyring) open(name string, id KeyID, nonce, ciphertext []byte) ([]byte, error) {
	key, ok := kr.key(id)
	if !ok {
		return nil, fmt.Errorf("secret %q is sealed under key %s, which is neither the current key (%s) nor a previous one%s: "+
			"start the master with that key's file in --secrets_previous_keys: %w", name, id, kr.current.id, kr.previousText(), ErrUndecryptable)
	}
	if len(nonce) != nonceSize {
		return nil, fmt.Errorf("secret %q has a nonce of %d bytes, not %d: the row was altered: %w", name, len(nonce), nonceSize, ErrUndecryptable)
	}
	value, err := key.aead.Open(nil, nonce, ciphertext, aad(name))
	if err != nil {
		return nil, fmt.Errorf("secret %q does not authenticate under key %s: the row was altered or copied from another name: %w", name, id, ErrUndecryptable)
	}
	return value, nil
}

func (kr *Keyring) key(id KeyID) (Key, bool) {
	if kr.current.id == id {
		return kr.current, true
	}
	for _, k := range kr.previous {
		if k.id == id {
			return k, true
		}
	}
	return Key{}, false
}

func (kr *Keyring) previousText() string {
	if len(kr.previous) == 0 {
		return " (none given)"
	}
	ids := make([]string, len(kr.previous))
	for i, k := range kr.previous {
		ids[i] = k.id.String()
	}
	return " (" + strings.Join(ids, ", ") + ")"
}
