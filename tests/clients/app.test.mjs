// The MCP App view in a real host: a page built on the official host bridge
// (@modelcontextprotocol/ext-apps/app-bridge, bundled here by vite) loads the view that the
// real server serves (ui://armature/arm) in an iframe, in Debian's headless Chromium driven
// through chromedriver (WebDriver). The host proxies the view's tools/call to the server over
// the TypeScript SDK, in the session that asked for the move, as a chat host does.
// A person approves a held move with the view's Approve button, sees progress, and STOP ends it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { NODE, binOf, leftovers, run, startServer, stopProcess } from './harness.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMEDRIVER = '/usr/bin/chromedriver';
const FAR = [1.8, -Math.PI / 2 + 0.5, 0.5, -Math.PI / 2 + 0.3, 0.3, 0.3];
const CONFIG = `
robot = "builtin:ur5e"
[backend]
kind = "sim"
[confirm]
approval = "human"
expire_s = 60.0
[confirm.actions]
move_joints = "always"
`;

/** The host page: the official bridge, the view in an iframe, tools/call proxied to /call. */
const HOST_PAGE = `<!doctype html><html><body>
<iframe id="view" style="width:600px;height:500px"></iframe>
<script type="module">
import { AppBridge, PostMessageTransport } from '/bridge.js';
const iframe = document.getElementById('view');
const bridge = new AppBridge(null, { name: 'armature-test-host', version: '1' }, { serverTools: {} });
bridge.oncalltool = async (params) => {
  const r = await fetch('/call', { method: 'POST', body: JSON.stringify(params) });
  return r.json();
};
bridge.oninitialized = () => { window.viewInitialized = true; };
await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
iframe.src = '/view.html';
</script></body></html>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value (up to `ms`); returns it. */
async function until(what, probe, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s (last: ${JSON.stringify(last)})`);
}

/**
 * chromedriver on a port the kernel picks (`--port=0`), read from its banner: a port guessed
 * by the test can be taken on a busy machine. If it exits or stays silent, its output is the error.
 */
function startDriver(ms = 30_000) {
  const proc = spawn(CHROMEDRIVER, ['--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`chromedriver ${why}; its output:\n${output}`));
    };
    const timer = setTimeout(() => fail(`did not report its port within ${ms / 1000} s`), ms);
    const read = (chunk) => {
      output += chunk;
      const m = /started successfully on port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        proc.removeListener('exit', exited);
        resolve({ proc, port: Number(m[1]) });
      }
    };
    const exited = (code, signal) => fail(`exited (code ${code}, signal ${signal}) before it listened`);
    proc.stdout.setEncoding('utf8').on('data', read);
    proc.stderr.setEncoding('utf8').on('data', read);
    proc.on('exit', exited);
    proc.on('error', (e) => fail(`could not be started: ${e.message}`));
  });
}

/** A minimal WebDriver client over chromedriver's HTTP endpoint. */
function webdriver(base) {
  const call = async (method, route, body) => {
    const r = await fetch(base + route, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const out = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(out.value)}`);
    return out.value;
  };
  return { call };
}

describe('the MCP App view in a host built on the official ext-apps bridge, headless Chromium', () => {
  let server;
  let client;
  let site;
  let driverProc;
  let wd;
  let session;
  let dir;

  before(async () => {
    for (const [bin, pkg] of [[CHROMIUM, 'chromium'], [CHROMEDRIVER, 'chromium-driver']]) {
      if (!existsSync(bin)) throw new Error(`${bin} is missing: install it with \`apt-get install ${pkg}\``);
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'armature-apphost-'));
    const config = path.join(dir, 'armature.toml');
    writeFileSync(config, CONFIG);
    server = await startServer(['--config', config]);
    client = new Client({ name: 'armature-app-host', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const view = await client.readResource({ uri: 'ui://armature/arm' });
    assert.equal(view.contents[0].mimeType, 'text/html;profile=mcp-app');

    // The official host bridge, bundled for the browser.
    const built = await run(NODE, [binOf('vite'), 'build', '--config', path.join(import.meta.dirname, 'apphost', 'vite.config.mjs')], {
      env: { ...process.env, APPHOST_OUT: dir },
      cwd: import.meta.dirname,
    });
    assert.equal(built.code, 0, `vite could not bundle the host bridge:\n${built.stdout}${built.stderr}`);
    const bridge = readFileSync(path.join(dir, 'bridge.js'));

    site = http.createServer(async (req, res) => {
      if (req.url === '/call' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const p = JSON.parse(body);
        const result = await client.callTool({ name: p.name, arguments: p.arguments ?? {} });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
        return;
      }
      const pages = { '/': [HOST_PAGE, 'text/html'], '/view.html': [view.contents[0].text, 'text/html'], '/bridge.js': [bridge, 'text/javascript'] };
      const page = pages[req.url];
      if (!page) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': page[1] }).end(page[0]);
    });
    await new Promise((r) => site.listen(0, '127.0.0.1', r));

    const started = await startDriver();
    driverProc = started.proc;
    wd = webdriver(`http://127.0.0.1:${started.port}`);
    await until('chromedriver ready', () => fetch(`http://127.0.0.1:${started.port}/status`).then((r) => r.ok, () => false));
    const created = await wd.call('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'chrome',
          'goog:chromeOptions': {
            binary: CHROMIUM,
            args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${path.join(dir, 'profile')}`],
          },
        },
      },
    });
    session = `/session/${created.sessionId}`;
    await wd.call('POST', `${session}/url`, { url: `http://127.0.0.1:${site.address().port}/` });
  });

  after(async () => {
    if (session) await wd.call('DELETE', session).catch(() => {});
    if (driverProc) await stopProcess(driverProc);
    site?.close();
    await client?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
  });

  /** The text of element `id` inside the view. */
  const viewText = (id) =>
    wd.call('POST', `${session}/execute/sync`, {
      script: `const d = document.getElementById('view').contentDocument; const e = d && d.getElementById(arguments[0]); return e ? e.textContent : null;`,
      args: [id],
    });

  /** Clicks button `id` inside the view, as a person does (WebDriver element click). */
  async function click(id) {
    await wd.call('POST', `${session}/frame`, { id: 0 });
    const el = await wd.call('POST', `${session}/element`, { using: 'css selector', value: `#${id}` });
    await wd.call('POST', `${session}/element/${Object.values(el)[0]}/click`, {});
    await wd.call('POST', `${session}/frame/parent`, {});
  }

  const status = async (taskId) => (await client.callTool({ name: 'task_status', arguments: { task_id: taskId } })).structuredContent;

  test('Approve in the view starts the held move, progress shows, and STOP ends it with the arm still', async () => {
    await until('the view initialised through the bridge', () =>
      wd.call('POST', `${session}/execute/sync`, { script: 'return window.viewInitialized === true;', args: [] }));
    const ack = (await client.callTool({ name: 'move_joints', arguments: { joints: FAR, speed: 0.1 } })).structuredContent;
    assert.equal(ack.state, 'awaiting_confirmation');
    // The model cannot approve its own move.
    const refused = await client.callTool({ name: 'confirm_task', arguments: { task_id: ack.task_id } });
    assert.equal(refused.structuredContent.error.code, 'human_approval_required');

    await until('the view shows the held move', async () => (await viewText('state')) === 'awaiting confirmation');
    await click('approve');
    const running = await until('the move runs', async () => {
      const rec = await status(ack.task_id);
      return rec.state === 'running' && rec;
    });
    assert.deepEqual(running.approval, { by: 'local', channel: 'app' });

    const shown = await until('the view shows progress', async () => {
      const p = await viewText('progress');
      return p && parseInt(p, 10) > 0 && p;
    });
    assert.match(shown, /^\d+ %$/);
    await click('stop');
    const rec = await until('the task ends', async () => {
      const r = await status(ack.task_id);
      return ['cancelled', 'succeeded', 'failed'].includes(r.state) && r;
    });
    assert.equal(rec.state, 'cancelled');
    assert.match(rec.message, /^Stopped .+ at [\d.]+ percent\. The arm is standing still\.$/);
    // The arm reaches zero velocity (below a micro-radian per second on every joint).
    await until('the arm is still', async () => {
      const st = (await client.callTool({ name: 'robot_state', arguments: {} })).structuredContent;
      return !st.moving && Math.max(...st.velocities.map(Math.abs)) < 1e-6;
    });
    await until('the view shows the end', async () => (await viewText('state')) === 'cancelled');
    assert.equal(await viewText('message'), rec.message);
  });
});
