// The streamable HTTP endpoint as any client meets it on the wire: the protocol versions
// it negotiates, and the HTTP statuses and JSON-RPC errors of malformed bodies.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { leftovers, startServer } from './harness.mjs';

const HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const HANDSHAKE_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

/** The JSON-RPC message of a response, whether sent as JSON or as an SSE event. */
async function message(response) {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const data = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6);
    assert.ok(data.length > 0, `no message in the event stream: ${text}`);
    return JSON.parse(data.at(-1).slice(6));
  }
  return JSON.parse(text);
}

function initialize(protocolVersion) {
  return {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'armature-http-test', version: '1' } },
  };
}

describe('streamable HTTP on the wire', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
    assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
  });

  for (const version of HANDSHAKE_VERSIONS) {
    test(`initialize at ${version} is answered at ${version}`, async () => {
      const r = await fetch(server.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(initialize(version)) });
      assert.equal(r.status, 200);
      const m = await message(r);
      assert.equal(m.result.protocolVersion, version);
      assert.deepEqual(Object.keys(m.result.capabilities).sort(), ['extensions', 'logging', 'resources', 'tools']);
    });
  }

  test('initialize at 2026-07-28, which has no handshake, is answered at 2025-11-25', async () => {
    const r = await fetch(server.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(initialize('2026-07-28')) });
    assert.equal((await message(r)).result.protocolVersion, '2025-11-25');
  });

  test('server/discover (2026-07-28) lists every supported version', async () => {
    const body = {
      jsonrpc: '2.0', id: 1, method: 'server/discover',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'armature-http-test', version: '1' },
        },
      },
    };
    const r = await fetch(server.url, {
      method: 'POST',
      headers: { ...HEADERS, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200);
    const m = await message(r);
    assert.deepEqual(m.result.supportedVersions, [...HANDSHAKE_VERSIONS, '2026-07-28']);
  });

  test('a body that is not JSON gets HTTP 400 and JSON-RPC error -32700', async () => {
    const r = await fetch(server.url, { method: 'POST', headers: HEADERS, body: '{this is not json' });
    assert.equal(r.status, 400);
    const m = await r.json();
    assert.equal(m.id, null);
    assert.equal(m.error.code, -32700);
    assert.match(m.error.message, /^Parse error: the body is not JSON/);
  });

  test('JSON that is not a JSON-RPC message gets HTTP 400 and JSON-RPC error -32600', async () => {
    const r = await fetch(server.url, { method: 'POST', headers: HEADERS, body: '{"hello": 1}' });
    assert.equal(r.status, 400);
    const m = await r.json();
    assert.equal(m.error.code, -32600);
    assert.match(m.error.message, /^Invalid Request: the body is not a JSON-RPC 2.0 message/);
  });

  test('a wrong media type is still HTTP 415', async () => {
    const r = await fetch(server.url, {
      method: 'POST',
      headers: { ...HEADERS, 'Content-Type': 'text/plain' },
      body: JSON.stringify(initialize('2025-11-25')),
    });
    assert.equal(r.status, 415);
  });

  test('the server still serves after all that', async () => {
    const r = await fetch(server.url, { method: 'POST', headers: HEADERS, body: JSON.stringify(initialize('2025-11-25')) });
    assert.equal(r.status, 200);
  });
});
