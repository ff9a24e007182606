// OpenSSL set-up for the rein process, called first thing in main().
#pragma once

namespace rein {

// Rein fetches its few algorithms (SHA-256, HMAC, the TLS client of --k8s-api) from
// OpenSSL's default provider by name. Left to itself, OpenSSL's first fetch reads the
// system's openssl.cnf and registers every legacy cipher and digest name, and the first HMAC
// loads every error string: together, half of the instructions of a `rein replay`'s fixed
// start, and a host's configuration file deciding what a sensor loads.
// Must run before any other OpenSSL call to take effect; later calls are harmless.
void init_crypto();

}  // namespace rein
