#!/usr/bin/env bash
# Create a throw-away CA and a server certificate for the mock LLM server.
# Usage: make-cert.sh [DIR]   (default DIR: ./mock-llm-certs)
# Prints shell-evaluable lines: CA_FILE=..., CERT_FILE=..., KEY_FILE=...
# Clients trust the server through CA_FILE (SSL_CERT_FILE, curl --cacert,
# NODE_EXTRA_CA_CERTS, gnutls-cli --x509cafile).
set -euo pipefail

dir=${1:-./mock-llm-certs}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077

# SANs: loopback, plus provider host names so a test that maps a name to
# 127.0.0.1 (or a client that only checks names) still verifies. example.com is
# a name that is NOT an LLM API host, for tests of SNI-based discovery.
sans="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in api.openai.com api.anthropic.com generativelanguage.googleapis.com \
         aiplatform.googleapis.com '*.openai.azure.com' api.groq.com api.deepseek.com \
         api.mistral.ai openrouter.ai api.x.ai api.together.xyz dashscope.aliyuncs.com \
         dashscope-intl.aliyuncs.com mock-llm.test example.com; do
  sans="$sans,DNS:$h"
done

cat >"$dir/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $sans
EOF

openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
openssl req -new -x509 -sha256 -days 30 -key "$dir/ca.key" -subj "/CN=Rein mock LLM test CA" \
  -config "$dir/openssl.cnf" -extensions ca_ext -out "$dir/ca.pem"

openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server.key" 2>/dev/null
openssl req -new -sha256 -key "$dir/server.key" -subj "/CN=localhost" \
  -config "$dir/openssl.cnf" -out "$dir/server.csr"
openssl x509 -req -sha256 -days 30 -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 12)" -extfile "$dir/openssl.cnf" -extensions server_ext \
  -out "$dir/server.pem" 2>/dev/null
rm -f "$dir/server.csr"
chmod 644 "$dir/ca.pem" "$dir/server.pem"

openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null

echo "CA_FILE=$dir/ca.pem"
echo "CERT_FILE=$dir/server.pem"
echo "KEY_FILE=$dir/server.key"
