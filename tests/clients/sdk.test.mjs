// The official TypeScript SDK (@modelcontextprotocol/sdk 1.x, the base of many hosts)
// against the real binary, over streamable HTTP and over stdio. Its Client.callTool
// validates structuredContent against the tool's outputSchema even when isError is set:
// every refusal must still arrive as a result with isError, its text and its code.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';

import { armatureBin, leftovers, startServer, stateDir } from './harness.mjs';

const HOME = [0.0, -Math.PI / 2, 0.0, -Math.PI / 2, 0.0, 0.0];
const FAR = [1.8, -Math.PI / 2 + 0.5, 0.5, -Math.PI / 2 + 0.3, 0.3, 0.3];

// Refusals named in issue 11, and others of each kind: [tool, arguments, code, text].
const REFUSALS = [
  ['move_joints', { joints: [0.0, -1.5, 4.0, -1.5, 0.0, 0.0] }, 'out_of_range',
    'The elbow stops at 180 degrees, not 229. Nothing moved.'],
  ['move_joints', { joints: [0.0, -1.5, 0.0] }, 'out_of_range', 'That gives 3 joint values; the robot has 6 joints. Nothing moved.'],
  ['move_joints', { joints: 'home' }, 'invalid_type', 'Joints must be a list of numbers, not the text home.'],
  ['move_joints', {}, 'missing_parameter', 'Joints are required'],
  ['home', { speed: -0.2 }, 'out_of_range', 'at most 1; minus 0.2 is not.'],
  ['move_to', { position: 'kitchen' }, 'unknown_position', 'There is no position named kitchen.'],
  ['task_status', { task_id: '00000000-0000-4000-8000-000000000000' }, 'unknown_task',
    'There is no such task.'],
  ['task_status', { task_id: 'xyz' }, 'invalid_task_id', 'The text xyz is not a task'],
  ['cancel_task', { task_id: 'abcd1234' }, 'unknown_task', 'There is no task abcd1234.'],
  ['list_tasks', { limit: 0 }, 'out_of_range', 'Limit must be a whole number from 1 to 100, not 0.'],
  ['save_position', { name: '#!?' }, 'invalid_name', 'That is not a usable name: a name needs at least one letter or digit'],
  ['save_position', { name: 'home' }, 'reserved_name', 'home is a position of the robot file'],
];

/** A connected SDK client over `kind` ('http' or 'stdio'), with the log notifications it got. */
async function connect(kind, target) {
  const client = new Client({ name: 'armature-ts-sdk-test', version: '1.0.0' });
  const logs = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
  let transport;
  let negotiated;
  if (kind === 'http') {
    transport = new StreamableHTTPClientTransport(new URL(target.url));
  } else {
    transport = new StdioClientTransport({
      command: armatureBin(),
      args: ['serve', '--stdio', '--state-dir', target.dir],
      stderr: 'ignore',
    });
    // stdio has no protocol-version header; the client still tells the transport.
    transport.setProtocolVersion = (v) => (negotiated = v);
  }
  await client.connect(transport);
  return { client, logs, transport, negotiated: () => negotiated ?? transport.protocolVersion };
}

async function refusal(client, tool, args) {
  const r = await client.callTool({ name: tool, arguments: args });
  assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)} was accepted: ${JSON.stringify(r)}`);
  return r;
}

async function waitEnded(client, taskId) {
  for (;;) {
    const r = await client.callTool({ name: 'task_status', arguments: { task_id: taskId } });
    if (!['queued', 'running', 'awaiting_confirmation'].includes(r.structuredContent.state)) {
      return r.structuredContent;
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

for (const kind of ['http', 'stdio']) {
  describe(`TypeScript SDK 1.x over ${kind}`, () => {
    let server;
    let state;
    let c;

    before(async () => {
      if (kind === 'http') {
        server = await startServer();
        c = await connect(kind, server);
      } else {
        state = stateDir();
        c = await connect(kind, state);
      }
    });

    after(async () => {
      await c?.client.close();
      await server?.stop();
      state?.cleanup();
      assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
    });

    test('negotiates protocol version 2025-11-25', () => {
      assert.equal(c.negotiated(), '2025-11-25');
    });

    test('lists every tool, each output schema admitting a refusal', async () => {
      const { tools } = await c.client.listTools();
      for (const name of ['move_joints', 'home', 'task_status', 'stop', 'robot_state', 'pick_and_place']) {
        assert.ok(tools.some((t) => t.name === name), `${name} is not listed`);
      }
      for (const t of tools) {
        assert.equal(t.outputSchema.type, 'object', t.name);
        assert.ok(t.outputSchema.anyOf.some((b) => b.required?.includes('error')), `${t.name}: no refusal branch`);
      }
    });

    test('robot_state answers, and its result matches its schema', async () => {
      const r = await c.client.callTool({ name: 'robot_state', arguments: {} });
      assert.notEqual(r.isError, true);
      assert.match(r.content[0].text, /UR5e/);
      assert.equal(r.structuredContent.moving, false);
      assert.deepEqual(r.structuredContent.positions.map((x) => Math.round(x * 1e6) / 1e6),
        HOME.map((x) => Math.round(x * 1e6) / 1e6));
    });

    for (const [tool, args, code, text] of REFUSALS) {
      test(`refusal ${tool} ${code}: a result with isError, its text and its code`, async () => {
        const r = await refusal(c.client, tool, args);
        assert.ok(r.content[0].text.includes(text), r.content[0].text);
        assert.deepEqual(r.structuredContent, { error: { code, message: r.content[0].text } });
      });
    }

    test('every listed tool refuses an unknown parameter as a result the SDK accepts', async () => {
      const { tools } = await c.client.listTools();
      for (const t of tools) {
        const r = await refusal(c.client, t.name, { no_such_parameter: 1 });
        assert.equal(r.structuredContent.error.code, 'unknown_parameter', t.name);
        const said = t.name.replace(/_/g, ' ');
        const named = said[0].toUpperCase() + said.slice(1);
        assert.ok(r.content[0].text.startsWith(`${named} has no setting by that name.`), r.content[0].text);
      }
    });

    test('home while the arm moves: refused as busy, naming the task', { timeout: 120_000 }, async () => {
      const ack = await c.client.callTool({ name: 'move_joints', arguments: { joints: FAR, speed: 0.05 } });
      assert.notEqual(ack.isError, true, ack.content[0].text);
      const id = ack.structuredContent.task_id;
      const n = ack.structuredContent.task_number;
      try {
        const r = await refusal(c.client, 'home', {});
        assert.equal(r.structuredContent.error.code, 'busy');
        assert.match(r.content[0].text, new RegExp(`^The arm is busy with task ${n}, `));
      } finally {
        await c.client.callTool({ name: 'stop', arguments: {} });
        await waitEnded(c.client, id);
        await c.client.callTool({ name: 'move_joints', arguments: { joints: HOME } })
          .then((a) => waitEnded(c.client, a.structuredContent.task_id));
      }
    });

    test('an unknown tool is JSON-RPC error -32602', async () => {
      await assert.rejects(c.client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
        assert.ok(e instanceof McpError);
        assert.equal(e.code, -32602);
        assert.match(e.message, /there is no tool named "no_such_tool"/);
        return true;
      });
    });

    test('tools/call without a name is JSON-RPC error -32602', async () => {
      const call = c.client.request({ method: 'tools/call', params: { arguments: {} } }, CallToolResultSchema);
      await assert.rejects(call, (e) => {
        assert.equal(e.code, -32602);
        assert.match(e.message, /invalid params for tools\/call: missing field `name`/);
        return true;
      });
    });

    test('a tools/list cursor the server never gave out is JSON-RPC error -32602', async () => {
      await assert.rejects(c.client.listTools({ cursor: 'page-2' }), (e) => {
        assert.equal(e.code, -32602);
        assert.match(e.message, /cursor "page-2" was not given out by this server/);
        return true;
      });
    });
  });
}

describe('TypeScript SDK 1.x: logging/setLevel filters the log notifications of that session', () => {
  let server;
  after(async () => {
    await server?.stop();
    assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
  });

  test('a session at "warning" gets a cancelled task but not a succeeded one; another session gets both', { timeout: 120_000 }, async () => {
    server = await startServer();
    const quiet = await connect('http', server);
    const chatty = await connect('http', server);
    try {
      assert.deepEqual(await quiet.client.setLoggingLevel('warning'), {});
      await chatty.client.callTool({ name: 'robot_state', arguments: {} });
      const near = HOME.map((x, i) => (i === 0 ? x + 0.05 : x));
      const ok = await quiet.client.callTool({ name: 'move_joints', arguments: { joints: near } });
      assert.equal((await waitEnded(quiet.client, ok.structuredContent.task_id)).state, 'succeeded');
      const slow = await quiet.client.callTool({ name: 'move_joints', arguments: { joints: FAR, speed: 0.05 } });
      await quiet.client.callTool({ name: 'cancel_task', arguments: { task_id: slow.structuredContent.task_id } });
      assert.equal((await waitEnded(quiet.client, slow.structuredContent.task_id)).state, 'cancelled');
      // Task ends are told in order, so once the second arrived the first would have too.
      while (quiet.logs.length < 1 || chatty.logs.length < 2) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(quiet.logs.map((l) => l.level), ['warning']);
      assert.deepEqual(chatty.logs.map((l) => l.level), ['info', 'warning']);
      assert.match(chatty.logs[0].data, /succeeded/);
      // A stopped task is said as stopped, with the arm standing still.
      assert.match(quiet.logs[0].data, /^Stopped .*The arm is standing still\./);
    } finally {
      await quiet.client.close();
      await chatty.client.close();
    }
  });
});
