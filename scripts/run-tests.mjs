#!/usr/bin/env node
// Runs the tap suite, shows its output as it comes, and ends with the plain closing line
// `N passed, N failed[, N skipped]` that CI reads (tap's own summary is `# { total, pass }`).
import { spawn } from 'node:child_process';

const args = ['tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code, signal) => {
  const summaries = [
    ...tail.matchAll(
      /#\s*\{\s*total:\s*(\d+),\s*pass:\s*(\d+)(?:,\s*fail:\s*(\d+))?(?:,\s*skip:\s*(\d+))?(?:,\s*todo:\s*(\d+))?[^}]*\}/g,
    ),
  ];
  const last = summaries.at(-1);
  if (last) {
    const [, total, pass, fail = '0', skip = '0'] = last;
    const failed = Math.max(Number(fail), Number(total) - Number(pass) - Number(skip));
    process.stdout.write(
      `\n${pass} passed, ${failed} failed${Number(skip) > 0 ? `, ${skip} skipped` : ''}\n`,
    );
  } else {
    process.stdout.write(`\n0 passed, 1 failed\n`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
