// Both MCP Inspector CLIs, the first tools an integrator reaches for, against the real
// binary over streamable HTTP and over stdio: list the tools, call robot_state, and show
// a refusal's text and code.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { NODE, armatureBin, binOf, leftovers, run, startServer, stateDir } from './harness.mjs';

const HERE = import.meta.dirname;

// The Inspector writes a catalog and secrets under $HOME: give it a home of its own.
const home = mkdtempSync(path.join(os.tmpdir(), 'armature-inspector-home-'));
const ENV = {
  ...process.env,
  HOME: home,
  MCP_INSPECTOR_SECRET_STORE: 'memory',
  // The v1 launcher starts its CLI with the `node` on PATH: the one these tests run on.
  PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH}`,
};

const CLIS = {
  // v1 (@modelcontextprotocol/inspector-cli 1.0.3) reads its own package.json through a
  // path relative to the working directory, so it runs from its build directory.
  'Inspector CLI v1 (@modelcontextprotocol/inspector-cli)': (args) =>
    run(NODE, [path.join(HERE, 'node_modules/@modelcontextprotocol/inspector-cli/build/cli.js'), '--cli', ...args], {
      env: ENV,
      cwd: path.join(HERE, 'node_modules/@modelcontextprotocol/inspector-cli/build'),
    }),
  'Inspector v2 (@modelcontextprotocol/inspector --cli)': (args) =>
    run(NODE, [binOf('mcp-inspector'), '--cli', ...args], { env: ENV, cwd: HERE }),
};

/** The JSON the CLI printed on stdout (its answer), with its exit code and stderr. */
async function ask(cli, target, args) {
  const out = await cli([...target, ...args]);
  const start = out.stdout.indexOf('{');
  assert.ok(start >= 0, `no JSON answer (exit ${out.code}):\n${out.stdout}\n${out.stderr}`);
  // The first JSON document on stdout; v2 prints nothing else there.
  let depth = 0;
  let end = start;
  let inString = false;
  for (let i = start; i < out.stdout.length; i++) {
    const ch = out.stdout[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) {
      end = i + 1;
      break;
    }
  }
  return { ...out, answer: JSON.parse(out.stdout.slice(start, end)) };
}

describe('MCP Inspector CLIs', () => {
  let server;
  let state;
  const targets = {};

  before(async () => {
    server = await startServer();
    state = stateDir();
    const config = path.join(state.dir, 'mcp.json');
    // The same mcpServers entry the README shows for stdio.
    writeFileSync(config, JSON.stringify({
      mcpServers: { armature: { command: armatureBin(), args: ['serve', '--stdio', '--state-dir', path.join(state.dir, 'state')] } },
    }));
    targets.http = [server.url];
    targets.stdio = ['--config', config, '--server', 'armature'];
  });

  after(async () => {
    await server?.stop();
    state?.cleanup();
    rmSync(home, { recursive: true, force: true });
    assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
  });

  for (const [name, cli] of Object.entries(CLIS)) {
    for (const kind of ['http', 'stdio']) {
      test(`${name} over ${kind}: lists the tools`, async () => {
        const { answer, code, stderr } = await ask(cli, targets[kind], ['--method', 'tools/list']);
        assert.equal(code, 0, stderr);
        const names = answer.tools.map((t) => t.name);
        for (const tool of ['move_joints', 'home', 'task_status', 'stop', 'robot_state']) {
          assert.ok(names.includes(tool), `${tool} missing from ${names}`);
        }
      });

      test(`${name} over ${kind}: calls robot_state`, async () => {
        const { answer, code, stderr } = await ask(cli, targets[kind], ['--method', 'tools/call', '--tool-name', 'robot_state']);
        assert.equal(code, 0, stderr);
        assert.notEqual(answer.isError, true);
        assert.match(answer.content[0].text, /^The UR5e is /);
        assert.equal(answer.structuredContent.moving, false);
      });

      test(`${name} over ${kind}: shows a refusal's text and code`, async () => {
        const { answer } = await ask(cli, targets[kind], [
          '--method', 'tools/call', '--tool-name', 'move_joints', '--tool-arg', 'joints=[0, -1.5, 4, -1.5, 0, 0]',
        ]);
        assert.equal(answer.isError, true);
        const text = 'The elbow stops at 180 degrees, not 229. Nothing moved.';
        assert.equal(answer.content[0].text, text);
        assert.deepEqual(answer.structuredContent, { error: { code: 'out_of_range', message: text } });
      });
    }
  }
});
