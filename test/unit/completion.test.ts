/** `opendps completion bash|zsh`: scripts generated from the commander program (cli/commands/completion.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram, main } from '../../cli/program.js';
import { bashScript, completionTree, zshScript } from '../../cli/commands/completion.js';
import { testTmpDir } from '../helpers/serve.js';

const hasShell = (sh: string) => spawnSync(sh, ['-c', 'exit 0']).status === 0;

test('the bash script names every top-level command, its aliases, and every subcommand', () => {
  const program = buildProgram();
  const script = bashScript(program);
  const top = program.commands.filter((c) => c.name() !== 'help');
  assert.ok(top.length >= 10, 'the program has its commands');
  for (const c of top) {
    for (const name of [c.name(), ...c.aliases()]) assert.match(script, new RegExp(`^    "${name}"\\) echo '${c.name()}' ;;$`, 'm'), `top-level command ${name}`);
  }
  const root = completionTree(program).find((n) => n.path === '')!;
  assert.deepEqual(root.commands.map((c) => c.name), top.map((c) => c.name()));
  for (const path of ['enrollment create', 'enrollment-group registration list', 'hub device-twin update', 'completion']) {
    assert.ok(completionTree(program).some((n) => n.path === path), path);
    assert.ok(script.includes(`"${path}")`), path);
  }
  assert.match(script, /^complete -o default -F _opendps opendps$/m);
});

test('bash completes commands, aliases, subcommands, options and choices as typed', { skip: !hasShell('bash') && 'bash is not installed' }, () => {
  const file = join(testTmpDir('completion'), 'opendps.bash');
  writeFileSync(file, bashScript(buildProgram()));
  assert.equal(spawnSync('bash', ['-n', file]).status, 0, 'valid bash');
  const complete = (...words: string[]): string[] => {
    const r = spawnSync('bash', ['-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _opendps; printf '%s\\n' "\${COMPREPLY[@]}"`, file, 'opendps', ...words], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(complete('enr'), ['enrollment', 'enrollment-group']);
  assert.ok(complete('').includes('completion'));
  assert.ok(complete('').includes('--version'));
  assert.ok(complete('ca-cert', '').includes('prove'), 'an alias leads to the canonical command');
  assert.ok(complete('enrollment', '--debug', 'cr').includes('create'), 'options before a subcommand are skipped');
  assert.deepEqual(complete('enrollment', 'create', '--attestation-type', ''), ['symmetrickey', 'tpm', 'x509']);
  assert.deepEqual(complete('-o', ''), ['json', 'table']);
  assert.deepEqual(complete('completion', ''), ['bash', 'zsh', '--debug', '-o', '--output', '-h', '--help']);
  assert.ok(complete('enrollment', 'create', '--').includes('--registration-id'));
});

test('the zsh script has every command and is valid zsh where zsh is installed', () => {
  const program = buildProgram();
  const script = zshScript(program);
  assert.match(script, /^#compdef opendps$/m);
  for (const c of program.commands) if (c.name() !== 'help') assert.ok(script.includes(`'${c.name()}:`), c.name());
  assert.ok(script.includes(`'ca-cert:`));
  if (hasShell('zsh')) {
    const file = join(testTmpDir('completion'), '_opendps');
    writeFileSync(file, script);
    assert.equal(spawnSync('zsh', ['-n', file]).status, 0, 'valid zsh');
  }
});

test('`opendps completion` prints the script; a shell it does not know is refused in one sentence (exit 2)', async () => {
  const capture = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const [write, writeErr] = [process.stdout.write, process.stderr.write];
    process.stdout.write = ((s: string) => { out.push(s); return true; }) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => { err.push(s); return true; }) as typeof process.stderr.write;
    try {
      return { code: await main(argv), stdout: out.join(''), stderr: err.join('') };
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
  };
  const ok = await capture(['completion', 'bash']);
  assert.equal(ok.code, 0);
  assert.equal(ok.stdout, bashScript(buildProgram()));
  assert.equal((await capture(['completion', 'zsh'])).stdout, zshScript(buildProgram()));
  const bad = await capture(['completion', 'fish']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^opendps: .*'fish' is invalid .*bash, zsh\.?\n$/);
});
