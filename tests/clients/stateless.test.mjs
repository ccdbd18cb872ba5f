// The stateless 2026-07-28 revision (no initialize; per-request _meta) through the
// official TypeScript SDK 2.x client pinned to it, over streamable HTTP and stdio.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

import { armatureBin, leftovers, startServer, stateDir } from './harness.mjs';

const MODERN = '2026-07-28';

for (const kind of ['http', 'stdio']) {
  describe(`TypeScript SDK 2.x pinned to ${MODERN} over ${kind}`, () => {
    let server;
    let state;
    let client;

    before(async () => {
      client = new Client(
        { name: 'armature-ts-sdk2-test', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: MODERN } } },
      );
      if (kind === 'http') {
        server = await startServer();
        await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      } else {
        state = stateDir();
        await client.connect(new StdioClientTransport({
          command: armatureBin(),
          args: ['serve', '--stdio', '--state-dir', state.dir],
          stderr: 'ignore',
        }));
      }
    });

    after(async () => {
      await client?.close();
      await server?.stop();
      state?.cleanup();
      assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
    });

    test(`negotiates ${MODERN}`, () => {
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    });

    test('lists the tools and calls robot_state', async () => {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'robot_state'));
      const r = await client.callTool({ name: 'robot_state', arguments: {} });
      assert.notEqual(r.isError, true);
      assert.equal(r.structuredContent.moving, false);
    });

    test('a motion is acknowledged with a task id, and task_status follows it', async () => {
      const ack = await client.callTool({ name: 'move_joints', arguments: { joints: [0.05, -Math.PI / 2, 0, -Math.PI / 2, 0, 0] } });
      assert.notEqual(ack.isError, true, ack.content[0].text);
      const st = await client.callTool({ name: 'task_status', arguments: { task_id: ack.structuredContent.task_id } });
      assert.equal(st.structuredContent.task_id, ack.structuredContent.task_id);
    });

    test('a refusal is a result with isError, its text and its code', async () => {
      const r = await client.callTool({ name: 'task_status', arguments: { task_id: '00000000-0000-4000-8000-000000000000' } });
      assert.equal(r.isError, true);
      assert.equal(r.content[0].text, 'There is no such task.');
      assert.equal(r.structuredContent.error.code, 'unknown_task');
    });

    test('an unknown tool is JSON-RPC error -32602', async () => {
      await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
        assert.equal(e.code, -32602);
        assert.match(e.message, /there is no tool named "no_such_tool"/);
        return true;
      });
    });
  });
}
