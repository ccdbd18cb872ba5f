// The official conformance suite (@modelcontextprotocol/conformance) in server mode against
// the real binary over streamable HTTP. Every scenario that applies must pass. The ones that
// call the suite's own reference tools, prompts or resources (which a robot-arm server does
// not have) are not applicable: each is listed below with its reason, and checked to fail
// for that reason only, so that no other failure hides behind the list.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { NODE, binOf, leftovers, run, startServer } from './harness.mjs';

const tool = (name) => ({ reason: `calls the suite's reference tool ${name}`, failure: `there is no tool named "${name}"` });
const prompt = (name) => ({ reason: `gets the suite's reference prompt ${name}; Armature declares no prompts capability`, failure: 'MCP error -32601: prompts/get' });
// Armature serves one resource, its MCP App view: a read of another is -32002 naming it.
const resource = (uri, method = 'resources/read') => ({
  reason: `uses the suite's reference resource ${uri}; Armature's only resource is its MCP App view`,
  failure: method === 'resources/read'
    ? `there is no resource "${uri}"; the only one is ui://armature/arm`
    : `MCP error -32601: ${method}`,
});

/** Scenarios that need the suite's own fixtures: why, and the failure that shows it. */
export const NOT_APPLICABLE = {
  'tools-call-simple-text': tool('test_simple_text'),
  'tools-call-image': tool('test_image_content'),
  'tools-call-audio': tool('test_audio_content'),
  'tools-call-embedded-resource': tool('test_embedded_resource'),
  'tools-call-mixed-content': tool('test_multiple_content_types'),
  'tools-call-with-logging': tool('test_tool_with_logging'),
  'tools-call-error': tool('test_error_handling'),
  'tools-call-with-progress': tool('test_tool_with_progress'),
  'tools-call-sampling': tool('test_sampling'),
  'tools-call-elicitation': tool('test_elicitation'),
  'elicitation-sep1034-defaults': tool('test_elicitation_sep1034_defaults'),
  'elicitation-sep1330-enums': tool('test_elicitation_sep1330_enums'),
  'json-schema-2020-12': { reason: "lists the suite's reference tool json_schema_2020_12_tool", failure: "Tool 'json_schema_2020_12_tool' not found" },
  'resources-read-text': resource('test://static-text'),
  'resources-read-binary': resource('test://static-binary'),
  'resources-templates-read': resource('test://template/123/data'),
  'resources-subscribe': resource('test://watched-resource', 'resources/subscribe'),
  'resources-unsubscribe': resource('test://watched-resource', 'resources/subscribe'),
  'prompts-get-simple': prompt('test_simple_prompt'),
  'prompts-get-with-args': prompt('test_prompt_with_arguments'),
  'prompts-get-embedded-resource': prompt('test_prompt_with_embedded_resource'),
  'prompts-get-with-image': prompt('test_prompt_with_image'),
};

describe('MCP conformance suite, server mode, every scenario (--suite all)', () => {
  let server;
  let out;
  let scenarios;
  const results = new Map();

  before(async () => {
    server = await startServer();
    out = mkdtempSync(path.join(os.tmpdir(), 'armature-conformance-'));
    const conformance = binOf('conformance');
    const listed = await run(NODE, [conformance, 'list', '--server']);
    scenarios = [...listed.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
    assert.ok(scenarios.length > 0, `the suite listed no server scenarios:\n${listed.stdout}${listed.stderr}`);
    // The suite exits non-zero when any scenario fails; the verdicts are read below.
    const ran = await run(NODE, [conformance, 'server', '--url', server.url, '--suite', 'all', '-o', out], { timeoutMs: 300_000 });
    for (const dir of readdirSync(out)) {
      const m = dir.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T/);
      if (m) results.set(m[1], JSON.parse(readFileSync(path.join(out, dir, 'checks.json'), 'utf8')));
    }
    assert.ok(results.size > 0, `the suite wrote no results:\n${ran.stdout}${ran.stderr}`);
  });

  after(async () => {
    await server?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
    assert.deepEqual(await leftovers(), [], 'armature processes outlived the tests');
  });

  test('every listed scenario ran, and the summary is reported', (t) => {
    assert.deepEqual([...results.keys()].sort(), [...scenarios].sort());
    for (const name of scenarios) {
      const checks = results.get(name);
      const failed = checks.filter((c) => c.status === 'FAILURE');
      const warned = checks.filter((c) => c.status === 'WARNING');
      const verdict = NOT_APPLICABLE[name]
        ? `not applicable: ${NOT_APPLICABLE[name].reason}`
        : failed.length === 0 ? 'pass' : 'FAIL';
      const notes = warned.map((c) => ` (warning: ${c.errorMessage ?? c.name})`).join('');
      t.diagnostic(`${name}: ${verdict}${notes}`);
    }
  });

  test('the not-applicable list names only scenarios the suite has', () => {
    for (const name of Object.keys(NOT_APPLICABLE)) {
      assert.ok(results.has(name), `${name} is not a scenario of this suite version`);
    }
  });

  // One test per scenario, made once the scenario list is known.
  test('each applicable scenario passes; each other fails only for want of its fixture', async (t) => {
    for (const name of scenarios) {
      const checks = results.get(name);
      const failed = checks.filter((c) => c.status === 'FAILURE');
      const na = NOT_APPLICABLE[name];
      await t.test(na ? `${name} (not applicable: ${na.reason})` : name, () => {
        if (!na) {
          assert.deepEqual(failed.map((c) => `${c.name}: ${c.errorMessage}`), [], `${name} failed`);
          assert.ok(checks.some((c) => c.status === 'SUCCESS'), `${name} has no passing check`);
        } else {
          assert.ok(failed.length > 0, `${name} passed: take it off the not-applicable list`);
          for (const c of failed) {
            assert.ok((c.errorMessage ?? '').includes(na.failure), `${name} failed for another reason: ${c.errorMessage}`);
          }
        }
      });
    }
  });
});
