// Package devca is a local certificate authority for development: it
// gives `corral dev --secure` and the compose cluster a CA, a server
// certificate and a client certificate, made once and kept while they
// stay good.
//
// The files, in one directory (0700; keys 0600, certificates 0644):
//
//	ca.pem, ca-key.pem          the CA (10 years); trust ca.pem in browsers and CLIs
//	server.pem, server-key.pem  the processes' certificate (1 year): serverAuth and
//	                            clientAuth, as a process serves with it and presents
//	                            it when it calls another over mTLS
//	client.pem, client-key.pem  an operator's certificate (1 year): clientAuth only
//
// Ensure keeps what is still good and reissues the rest:
//
//	CA missing, broken or expiring within 30 days   new CA, and so new leaves
//	server certificate missing a host               reissued from the same CA,
//	                                                covering its old hosts too
//	leaf broken, not the CA's, expiring soon        reissued from the same CA
//	client certificate of another common name      reissued from the same CA
//
// The CA is replaced only when it must be, since browsers and CLIs trust
// it by hand.
//
// ReissueServer rotates the server certificate on demand (a new key from
// the same CA, the same hosts), as an operator would on a running cluster
// whose processes reload their certificate when its files change.
package devca
