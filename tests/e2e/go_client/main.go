// A small HTTPS client for end-to-end tests of Rein's Go crypto/tls uprobes. It speaks to an
// LLM-style API (or a local mock reached through -connect, keeping SNI and Host on the API
// name) and prints one JSON line per request so the harness can line up what the sensor saw.
// Standard library only, so it builds offline with Debian's Go toolchain.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 10, "number of requests")
	url := flag.String("url", "https://api.openai.com/v1/chat/completions", "request URL")
	connect := flag.String("connect", "", "dial ADDR:PORT instead of the URL's host (SNI and Host stay the URL's)")
	cacert := flag.String("cacert", "", "PEM file of CA certificates to trust (default: system roots)")
	key := flag.String("key", "", "API key, sent as Authorization: Bearer")
	model := flag.String("model", "gpt-4o-mini", "model name in the JSON body")
	stream := flag.Bool("stream", false, "ask for a streamed response with usage")
	http1 := flag.Bool("http1", false, "force HTTP/1.1 (no h2 negotiation)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request timeout")
	flag.Parse()

	tlsConf := &tls.Config{}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fatal("read -cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fatal("no certificates in %s", *cacert)
		}
		tlsConf.RootCAs = pool
	}

	// net.Dialer leaves TCP_NODELAY on for TCP connections, which is the default we want.
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if *connect != "" {
				addr = *connect
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	if *http1 {
		// A non-nil empty map is the documented way to switch off HTTP/2 in net/http.
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.ForceAttemptHTTP2 = false
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	body := map[string]any{
		"model":    *model,
		"messages": []map[string]string{{"role": "user", "content": "Say hello."}},
	}
	if *stream {
		body["stream"] = true
		body["stream_options"] = map[string]bool{"include_usage": true}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		fatal("marshal: %v", err)
	}

	failures := 0
	for i := 0; i < *n; i++ {
		start := time.Now()
		status, proto, size, err := once(client, *url, *key, payload)
		line := map[string]any{
			"i": i, "status": status, "proto": proto, "bytes": size,
			"ms": time.Since(start).Milliseconds(),
		}
		if err != nil {
			line["error"] = err.Error()
			failures++
		}
		out, _ := json.Marshal(line)
		fmt.Println(string(out))
	}
	if failures > 0 {
		os.Exit(1)
	}
}

// once sends one POST and drains the response so the connection goes back to the pool.
func once(client *http.Client, url, key string, payload []byte) (int, string, int64, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	size, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Proto, size, err
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goclient: "+format+"\n", args...)
	os.Exit(2)
}
