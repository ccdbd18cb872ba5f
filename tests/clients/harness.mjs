// The real armature binary for the client tests: started on a free loopback port with a
// state directory of its own, and always stopped (and waited for) afterwards.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

// The conformance suite and the Inspector need Node 22 or newer; Debian's is older.
if (Number(process.versions.node.split('.')[0]) < 22) {
  throw new Error(
    `these tests need Node >= 22, and this is ${process.version}: the npm registry's \`node\` package provides it ` +
      '(cd tests/clients && npm ci), then run tests/clients/node_modules/.bin/node --test (./scripts/test does)',
  );
}

/** The armature binary: $ARMATURE_BIN, else the release build. */
export function armatureBin() {
  const bin = process.env.ARMATURE_BIN ?? path.join(ROOT, 'target', 'release', 'armature');
  if (!existsSync(bin)) {
    throw new Error(`the armature binary is missing at ${bin}: run \`cargo build --release\` (./scripts/test does), or set ARMATURE_BIN`);
  }
  return bin;
}

// Every armature this test process starts, directly or through a client that spawns it
// (stdio), names a state directory under this prefix: that is how leftovers are found.
const STATE_PREFIX = `armature-clients-${process.pid}-`;

/** A fresh state directory, removed by `cleanup`. */
export function stateDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), STATE_PREFIX));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The processes started here (by any route) that still run, as "pid cmdline". */
function running() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes(STATE_PREFIX)) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

/** The processes started here that outlive their test, after letting a closing one exit (up to 5 s). */
export async function leftovers() {
  for (let i = 0; i < 50 && running().length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return running();
}


/** Starts `armature serve --http` on a free port; resolves once it listens. */
export async function startServer(extraArgs = []) {
  const state = stateDir();
  const proc = spawn(armatureBin(), ['serve', '--http', '127.0.0.1:0', '--state-dir', state.dir, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = [];
  const lines = readline.createInterface({ input: proc.stderr });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`armature did not start within 15 s:\n${log.join('\n')}`)), 15_000);
    lines.on('line', (line) => {
      log.push(line);
      const m = line.match(/is listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`armature exited (${code}) before listening:\n${log.join('\n')}`));
    });
  });
  return {
    url,
    stateDir: state.dir,
    log,
    async stop() {
      await stopProcess(proc);
      state.cleanup();
    },
  };
}

/** Ends `proc` (SIGTERM, then SIGKILL after 10 s) and waits for it. */
export async function stopProcess(proc) {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs `command args`, collecting its output; rejects on a timeout. */
export function run(command, args, { timeoutMs = 60_000, env = process.env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The node binary these tests run on (the npm registry's `node` package, >= 22). */
export const NODE = process.execPath;

/** The path of an installed package's bin script. */
export function binOf(name) {
  const bin = path.join(import.meta.dirname, 'node_modules', '.bin', name);
  if (!existsSync(bin)) {
    throw new Error(`${name} is not installed in tests/clients: run \`npm ci\` there (./scripts/test does)`);
  }
  return bin;
}
