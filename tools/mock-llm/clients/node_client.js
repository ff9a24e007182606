#!/usr/bin/env node
// Real Node.js client for the mock LLM server: node's https module (OpenSSL
// linked into node) with an https.Agent({keepAlive: true}) when --keep-alive y.
// Makes --count sequential requests and prints one JSON summary line. The
// usage each response carried is parsed here, independently of the server, so
// a test can check the server's ledger against the wire.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const zlib = require('zlib');

// Obviously fake credentials in each provider's shape; none is a real secret.
const FAKE_KEYS = {
  openai: 'sk-proj-MOCKmockMOCKmockMOCKmock0000',
  anthropic: 'sk-ant-api03-MOCKmockMOCKmockMOCK0000',
  gemini: 'AIzaMOCKmockMOCKmockMOCKmock0000',
  azure: '00000000000000000000000000000000',
};

const USAGE_TEXT = `usage: node_client.js --base-url URL [--cacert FILE] [--path PATH] [--model M]
  [--count N] [--stream y|n] [--gzip y|n] [--keep-alive y|n] [--include-usage y|n]
  [--size N] [--cut y|n] [--header 'Name: value']... [--api-key K] [--wait-before S] [--timeout S]`;

function parseArgs(argv) {
  const a = {
    path: '/v1/chat/completions', count: 1, stream: 'n', gzip: 'n', keepAlive: 'n',
    includeUsage: 'y', size: 0, cut: 'n', header: [], waitBefore: 0, timeout: 30,
  };
  const names = {
    '--base-url': 'baseUrl', '--cacert': 'cacert', '--path': 'path', '--model': 'model',
    '--count': 'count', '--stream': 'stream', '--gzip': 'gzip', '--keep-alive': 'keepAlive',
    '--include-usage': 'includeUsage', '--size': 'size', '--cut': 'cut', '--header': 'header',
    '--api-key': 'apiKey', '--wait-before': 'waitBefore', '--timeout': 'timeout',
  };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s);
    if (flag === '-h' || flag === '--help') { console.log(USAGE_TEXT); process.exit(0); }
    const key = names[flag];
    if (!key) { console.error(`unknown option ${flag}\n${USAGE_TEXT}`); process.exit(2); }
    if (value === undefined) value = argv[++i];
    if (value === undefined) { console.error(`${flag} needs a value`); process.exit(2); }
    if (key === 'header') a.header.push(value); else a[key] = value;
  }
  if (!a.baseUrl) { console.error(USAGE_TEXT); process.exit(2); }
  for (const k of ['count', 'size', 'waitBefore', 'timeout']) a[k] = Number(a[k]);
  return a;
}

const yes = (v) => ['y', 'yes', '1', 'true'].includes(String(v).toLowerCase());

function apiOf(fullPath) {
  const path = fullPath.split('?')[0];
  if (path.includes(':generateContent') || path.includes(':streamGenerateContent')) return 'gemini';
  if (path.endsWith('/api/chat')) return 'ollama_chat';
  if (path.endsWith('/api/generate')) return 'ollama_generate';
  if (path.endsWith('/v1/messages')) return 'anthropic';
  if (path.endsWith('/responses')) return 'responses';
  return 'chat';
}

function requestPath(path, api, stream) {
  if (api === 'gemini' && stream && path.includes(':generateContent')) {
    return path.replace(':generateContent', ':streamGenerateContent') +
      (path.includes('?') ? '&' : '?') + 'alt=sse';
  }
  return path;
}

function defaultModel(api) {
  return { chat: 'gpt-4o-mini', responses: 'gpt-4o', anthropic: 'claude-sonnet-4-5',
    ollama_chat: 'llama3.2', ollama_generate: 'llama3.2' }[api] || '';
}

function makeBody(api, model, stream, includeUsage, i) {
  const prompt = `Request ${i} from node_client pid ${process.pid}: say hello.` + ' pad'.repeat(i % 5);
  const messages = [{ role: 'user', content: prompt }];
  let b;
  if (api === 'chat') {
    b = { model, messages, stream };
    if (stream && includeUsage) b.stream_options = { include_usage: true };
  } else if (api === 'responses') b = { model, input: prompt, stream };
  else if (api === 'anthropic') b = { model, max_tokens: 256, messages, stream };
  else if (api === 'gemini') b = { contents: [{ role: 'user', parts: [{ text: prompt }] }] };
  else if (api === 'ollama_chat') b = { model, messages, stream };
  else b = { model, prompt, stream };
  return Buffer.from(JSON.stringify(b));
}

function authHeaders(api, path, key) {
  if (api.startsWith('ollama')) return {};
  if (api === 'anthropic') return { 'x-api-key': key || FAKE_KEYS.anthropic, 'anthropic-version': '2023-06-01' };
  if (api === 'gemini') return { 'x-goog-api-key': key || FAKE_KEYS.gemini };
  if (path.includes('/openai/deployments/')) return { 'api-key': key || FAKE_KEYS.azure };
  return { authorization: 'Bearer ' + (key || FAKE_KEYS.openai) };
}

// ------------------------------------------------------------ usage parsing

function jsonObjects(buf, contentType) {
  const text = buf.toString('utf8');
  const out = [];
  const tryParse = (s) => { try { out.push(JSON.parse(s)); } catch (_) { /* partial */ } };
  if (contentType.includes('event-stream')) {
    for (const block of text.replace(/\r\n/g, '\n').split('\n\n')) {
      const data = block.split('\n').filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data && data !== '[DONE]') tryParse(data);
    }
  } else if (contentType.includes('ndjson')) {
    for (const line of text.split('\n')) if (line.trim()) tryParse(line);
  } else {
    try {
      const v = JSON.parse(text);
      if (Array.isArray(v)) out.push(...v); else out.push(v);
    } catch (_) { /* truncated */ }
  }
  return out.filter((o) => o && typeof o === 'object' && !Array.isArray(o));
}

const pick = (v) => (v === undefined ? null : v);

function usageOf(api, objs) {
  let u = null;
  let pending = {};
  for (const o of objs) {
    if (api === 'chat') {
      const c = o.usage || (o.x_groq && o.x_groq.usage);
      if (c) {
        const ptd = c.prompt_tokens_details || {};
        const ctd = c.completion_tokens_details || {};
        u = { input_tokens: pick(c.prompt_tokens), output_tokens: pick(c.completion_tokens),
          cache_read_input_tokens: pick(c.prompt_cache_hit_tokens !== undefined ? c.prompt_cache_hit_tokens : ptd.cached_tokens),
          cache_creation_input_tokens: null, reasoning_tokens: pick(ctd.reasoning_tokens) };
      }
    } else if (api === 'responses') {
      let c = null;
      if (o.type === 'response.completed') c = (o.response || {}).usage;
      else if (o.object === 'response') c = o.usage;
      if (c) {
        u = { input_tokens: pick(c.input_tokens), output_tokens: pick(c.output_tokens),
          cache_read_input_tokens: pick((c.input_tokens_details || {}).cached_tokens),
          cache_creation_input_tokens: null,
          reasoning_tokens: pick((c.output_tokens_details || {}).reasoning_tokens) };
      }
    } else if (api === 'anthropic') {
      const keys = ['input_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'];
      if (o.type === 'message_start') {
        const s = (o.message || {}).usage || {};
        pending = {};
        for (const k of keys) pending[k] = pick(s[k]);
      } else if (o.type === 'message_delta') {
        const d = o.usage || {};
        u = Object.assign({}, pending);
        for (const k of [...keys, 'output_tokens']) if (d[k] !== undefined && d[k] !== null) u[k] = d[k];
        u.reasoning_tokens = null;
      } else if (o.type === 'message') {
        const d = o.usage || {};
        u = { reasoning_tokens: null };
        for (const k of [...keys, 'output_tokens']) u[k] = pick(d[k]);
      }
    } else if (api === 'gemini') {
      const m = o.usageMetadata;
      if (m) {
        u = { input_tokens: pick(m.promptTokenCount), output_tokens: pick(m.candidatesTokenCount),
          cache_read_input_tokens: pick(m.cachedContentTokenCount),
          cache_creation_input_tokens: null, reasoning_tokens: pick(m.thoughtsTokenCount) };
      }
    } else if (o.done === true) {
      u = { input_tokens: pick(o.prompt_eval_count), output_tokens: pick(o.eval_count),
        cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_tokens: null };
    }
  }
  return u;
}

function finalUsage(api, objs, incomplete) {
  // Gemini repeats partial usage on every chunk, so a cut stream has no final one.
  if (incomplete && api === 'gemini') return null;
  if (api === 'anthropic' && !objs.some((o) => o.type === 'message_delta' || o.type === 'message')) return null;
  return usageOf(api, objs);
}

// ------------------------------------------------------------ transport

// onNewSocket is called once per TCP connection, so the summary can show
// whether keep-alive really reused one connection.
function once(mod, url, options, body, timeoutS, onNewSocket) {
  return new Promise((resolve) => {
    const parts = [];
    let settled = false;
    const done = (r) => { if (!settled) { settled = true; resolve(r); } };
    const req = mod.request(url, options, (res) => {
      res.on('data', (d) => parts.push(d));
      res.on('error', () => {});
      res.on('close', () => done({ status: res.statusCode, headers: res.headers,
        raw: Buffer.concat(parts), incomplete: !res.complete }));
    });
    req.on('socket', onNewSocket);
    req.setTimeout(timeoutS * 1000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done({ status: 0, headers: {}, raw: Buffer.concat(parts),
      incomplete: true, error: String(e.message || e).slice(0, 200) }));
    req.end(body);
  });
}

function decode(raw, encoding) {
  if (!(encoding || '').includes('gzip')) return raw;
  try {
    // Sync flush lets a truncated (cut) gzip stream decode as far as it goes.
    return zlib.gunzipSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (_) {
    return Buffer.alloc(0);
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const api = apiOf(a.path);
  const stream = yes(a.stream);
  const keep = yes(a.keepAlive);
  const model = a.model || defaultModel(api);
  const path = requestPath(a.path, api, stream);
  const base = new URL(a.baseUrl);
  const tls = base.protocol === 'https:';
  const mod = tls ? https : http;
  const AgentClass = tls ? https.Agent : http.Agent;
  const agentOpts = { keepAlive: keep, maxSockets: 1 };
  if (tls && a.cacert) agentOpts.ca = fs.readFileSync(a.cacert);
  const agent = new AgentClass(agentOpts);
  let connections = 0;
  const seen = new WeakSet();
  const onNewSocket = (s) => { if (!seen.has(s)) { seen.add(s); connections++; } };
  const headers = { 'content-type': 'application/json', 'user-agent': 'rein-mock-node-client/1',
    ...authHeaders(api, path, a.apiKey) };
  if (!keep) headers.connection = 'close';
  if (yes(a.gzip)) { headers['accept-encoding'] = 'gzip'; headers['x-mock-gzip'] = '1'; }
  if (a.size) headers['x-mock-size'] = String(a.size);
  if (yes(a.cut)) headers['x-mock-cut'] = '1';
  for (const h of a.header) {
    const at = h.indexOf(':');
    if (at > 0) headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }

  if (a.waitBefore > 0) await new Promise((r) => setTimeout(r, a.waitBefore * 1000));
  const t0 = process.hrtime.bigint();
  const calls = [];
  const url = a.baseUrl.replace(/\/+$/, '') + path;
  for (let i = 0; i < Math.max(0, a.count); i++) {
    const body = makeBody(api, model, stream, yes(a.includeUsage), i);
    const opts = { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } };
    const r = await once(mod, url, opts, body, a.timeout, onNewSocket);
    const data = decode(r.raw, r.headers['content-encoding']);
    const objs = jsonObjects(data, r.headers['content-type'] || '');
    const call = { request_id: r.headers['x-mock-request-id'] || null, status: r.status,
      bytes: data.length, wire_bytes: r.raw.length, incomplete: r.incomplete,
      usage: r.status === 200 ? finalUsage(api, objs, r.incomplete) : null };
    if (r.error) call.error = r.error;
    calls.push(call);
  }
  agent.destroy();
  const summary = { client: 'node', transport: keep ? 'https.Agent-keepalive' : 'https-close',
    tls, pid: process.pid, path, model, stream, requests: calls.length,
    ok: calls.filter((c) => c.status === 200).length, statuses: calls.map((c) => c.status),
    incomplete: calls.filter((c) => c.incomplete).length,
    usage_seen: calls.filter((c) => c.usage !== null).length, connections,
    bytes: calls.reduce((n, c) => n + c.bytes, 0),
    elapsed_s: Number(process.hrtime.bigint() - t0) / 1e9, calls };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
