// Progress on stderr: a live line on a terminal; otherwise one short line per run, so logs
// and test output stay small.

export function createProgress({ quiet, stream = process.stderr }) {
  const tty = stream.isTTY === true;
  return {
    start(name) {
      if (!quiet && !tty) stream.write(`running ${name}…\n`);
    },
    sample(s) {
      if (quiet || !tty) return;
      const secs = `${(Math.max(0, s.tMs) / 1000).toFixed(1)}/${(s.durationMs / 1000).toFixed(0)}s`;
      const breaker = s.breaker === undefined ? '' : ` breaker ${s.breaker}`;
      const text =
        `${s.name} ${s.phase} ${secs} sent ${s.sent} ok ${s.succeeded} fail ${s.failed}` +
        ` shed ${s.shed} in-flight ${s.inFlight}${breaker}`;
      stream.write(`\r\x1b[2K${text.slice(0, (stream.columns ?? 120) - 1)}`);
    },
    end(name) {
      if (quiet) return;
      stream.write(tty ? '\r\x1b[2K' : `${name} done\n`);
    },
  };
}
