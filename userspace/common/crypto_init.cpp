#include "common/crypto_init.h"

#include <openssl/crypto.h>

namespace rein {

void init_crypto() {
  // Each of OpenSSL's init steps runs once: choosing "no" here makes the later implicit
  // requests for them no-ops. Failure leaves OpenSSL's defaults, which also work. Its error
  // strings are a table of thousands loaded on a thread's first error mark (HMAC set-up
  // makes one); rein never prints OpenSSL's error text.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                          OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
                      nullptr);
}

}  // namespace rein
