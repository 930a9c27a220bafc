-- The master's secret store (corral/kernel/internal/secrets). A value is
-- never stored in the clear: ciphertext is AES-256-GCM under the key whose
-- id is key_id (the first 8 bytes of a SHA-256 of the key, never the key
-- itself), with a random 12-byte nonce and the secret's name as additional
-- data, so that a row copied under another name does not decrypt. Rows
-- under an older key are re-encrypted under the current one by the store's
-- Rotate. size is the length of the value in bytes; version counts the
-- values stored under the name since it was created.
CREATE TABLE kernel.secrets (
    name       text PRIMARY KEY CHECK (octet_length(name) BETWEEN 1 AND 255),
    key_id     bytea NOT NULL CHECK (octet_length(key_id) = 8),
    nonce      bytea NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext bytea NOT NULL,
    size       integer NOT NULL CHECK (size BETWEEN 1 AND 65536),
    version    bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
