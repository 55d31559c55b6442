// Package fabric is the NATS fabric drover runs on: the subject scheme,
// the roles and their permissions (drover's auth callout), connection
// files, and Connect, which turns a connection file or a URL into a
// *nats.Conn with the right options. Package fabric/embedded runs the
// embedded nats-server a controller starts by default; it is apart so that
// engines and clients do not link nats-server.
//
// # Subjects
//
// With a prefix P (DefaultPrefix "drover"; one controller per prefix) and
// a connection's key K:
//
//	P.eng.K.in      controller → engine K (transport frames)
//	P.ctl.eng.K     engine K → controller (transport frames, heartbeats)
//	P.api.v1.<op>   client → controller: the control API (package controlapi)
//	_INBOX.K.>      replies to connection K (nats.CustomInboxPrefix)
//
// # Roles and what is enforced
//
// Authentication is on by default, on loopback too. The embedded server
// (and an external server configured as below) has one account, DROVER,
// with one configured user: the controller's, an nkey whose seed is in the
// controller's connection file. That user has every permission and runs
// drover's auth callout (Callout), which decides for every other
// connection:
//
//   - engine: a connection that sends the engine secret (from
//     drover-engine.json) as its token. It may subscribe only to P.eng.K.in
//     and _INBOX.K.>, and publish only to P.ctl.eng.K. So an engine
//     receives only its own tasks, and cannot speak for another engine (the
//     controller's transport takes the sender from the subject), read
//     another engine's tasks, call the control API, or publish to any
//     engine.
//   - client: a connection that sends the client secret (from
//     drover-client.json). It may publish only to P.api.> (and $SRV.>, the
//     micro services' discovery) and subscribe only to _INBOX.K.>. So a
//     client cannot impersonate an engine, read tasks or results meant for
//     engines or other clients, or publish to an engine. The control API
//     answers only to reply subjects under _INBOX., so a client cannot make
//     the controller publish on an engine's subject either.
//   - anything else is refused (no token, a wrong one, no nkey, a forged
//     nonce signature).
//
// K is bound to the connection: Connect creates a fresh nkey per
// connection and signs the server's nonce with it; the callout checks the
// signature and uses the nkey's public key as K. Two engines therefore
// never share a key, and an engine cannot claim another's key without its
// seed. A reconnecting connection keeps its nkey, hence its key and
// permissions. Engine and client connections get at most 256
// subscriptions and no JetStream access (the journal of issue 5 uses the
// controller's connection).
//
// What is not enforced: the secrets are shared per role (any holder of
// drover-engine.json can connect as a new engine; any holder of
// drover-client.json can submit tasks and push code to engines, which run
// it with their step budget and, for commands, only if started with
// commands allowed). Protect the files (ReadFile refuses them unless mode
// 0600) and use TLS off loopback: without TLS, secrets and task data cross
// the network in clear.
//
// # An external NATS server or cluster
//
// With drover's callout: add the text of ServerAuthConfig (an account,
// the controller's nkey user, and an auth_callout block naming the
// controller's issuer key; it holds no secret) to every server's
// configuration, give the controller its connection file (role
// controller: the nkey seed and the callout's keys), and have it run
// StartCallout on its connection. Then everything above holds, cluster-
// wide: the servers ask the controller for every connection. The servers
// must send a nonce, which they do when they have an nkey user (the
// controller's); the callout refuses connections without one. Without the
// controller running, no engine or client can connect. Only server
// configuration ("config mode") is supported; in operator (JWT) mode the
// users must be issued by the account's keys, which Callout does not do.
//
// With the operator's own credentials instead (a connection file with
// token, user and password, nkey_seed or creds_file, or a URL and
// ConnectOptions.CredentialsFile): drover enforces nothing. Connections get
// whatever permissions the operator configured for those credentials; an
// engine's key is a random id (or its nkey's public key) that the server
// does not bind to it, so unless the operator gives every engine its own
// user confined to P.eng.<its key>.in and P.ctl.eng.<its key>, an engine
// can read other engines' tasks and speak for them. The controller still
// takes the sender of transport frames from the subject, and the control
// API still answers only to inboxes.
//
// # Connection files
//
// JSON, mode 0600, written atomically (WriteFile), one per role:
// drover-controller.json, drover-engine.json and drover-client.json, in the
// controller's data directory (default DefaultDir: $DROVER_STATE_DIR, else
// $XDG_STATE_HOME/drover, else ~/.local/state/drover). See ConnFile for the
// fields. ReadFile refuses a file other users can read or write, a file of
// another version, unknown fields and inconsistent credentials, with a
// message that says which. Engines and clients get only their role's file;
// the controller's holds the callout's keys and must stay with the
// controller.
//
// # TLS
//
// A connection file's tls block names the authority that signed the
// server's certificate (a path, or the PEM inline so the file is
// self-contained) and, when the server verifies clients, the client's
// certificate and key. The embedded server's TLS is configured with
// embedded.TLSConfig.
package fabric
