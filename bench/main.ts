// `npm run bench [-- --billing | --profile]`: the gateway against nginx and a bare Node proxy (bench/run.ts), or,
// with --billing, the full pipeline with billing on against billing off (bench/billing.ts). Each is a
// self-running script; this only picks one.
const billing = process.argv.includes('--billing');
if (billing) {
  process.argv = process.argv.filter((a) => a !== '--billing');
  await import('./billing.ts');
} else {
  await import('./run.ts');
}
