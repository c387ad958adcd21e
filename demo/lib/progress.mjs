// Progress on stderr, so stdout carries only the result (the table, or the --json object).
// On a terminal: one live status line, rewritten in place, that fits the terminal's width.
// Otherwise (a pipe, a CI log): a plain line every few seconds of the run, so a reader sees it
// is alive without a line per sample.

/** Seconds of run time between two progress lines when stderr is not a terminal. */
export const PIPE_EVERY_MS = 3000;

const seconds = (ms) => {
  const s = ms / 1000;
  return Number.isInteger(s) ? String(s) : s.toFixed(1);
};

/** `4.0/4s`: time into the load, never past its end (the last answers drain after it). */
export function formatClock(tMs, durationMs) {
  return `${(Math.min(Math.max(0, tMs), durationMs) / 1000).toFixed(1)}/${seconds(durationMs)}s`;
}

/** `bad deploy`, …, or `draining` once every request was sent and answers are still due. */
function phaseOf(s) {
  return s.tMs >= s.durationMs ? 'draining' : s.phase;
}

/**
 * The status of one sample in at most `width` characters. Fields go, least useful first,
 * until the line fits; the run's name and clock stay.
 */
export function statusLine(s, width = Infinity) {
  const fields = [
    { text: s.name, keep: 0 },
    { text: phaseOf(s), keep: 2 },
    { text: formatClock(s.tMs, s.durationMs), keep: 0 },
    { text: `sent ${s.sent}`, keep: 4 },
    { text: `ok ${s.succeeded}`, keep: 5 },
    { text: `fail ${s.failed}`, keep: 5 },
    { text: `shed ${s.shed}`, keep: 5 },
    { text: `in-flight ${s.inFlight}`, keep: 1 },
    ...(s.breaker === undefined ? [] : [{ text: `breaker ${s.breaker}`, keep: 3 }]),
    ...(s.limit === undefined ? [] : [{ text: `limit ${s.limit}`, keep: 2 }]),
  ];
  const line = (shown) => shown.map((f) => f.text).join(' ');
  let shown = fields;
  for (let level = 5; level > 0 && line(shown).length > width; level--) {
    shown = shown.filter((f) => f.keep < level);
  }
  const text = line(shown);
  return text.length > width ? text.slice(0, Math.max(0, width)) : text;
}

export function createProgress({ quiet, stream = process.stderr, everyMs = PIPE_EVERY_MS }) {
  const tty = stream.isTTY === true;
  let nextLineAt = everyMs;
  return {
    start(name) {
      nextLineAt = everyMs;
      if (!quiet && !tty) stream.write(`running ${name}…\n`);
    },
    sample(s) {
      if (quiet) return;
      if (tty) {
        // One column spare: writing the last column makes some terminals wrap.
        stream.write(`\r\x1b[2K${statusLine(s, (stream.columns ?? 80) - 1)}`);
      } else if (s.tMs >= nextLineAt) {
        stream.write(`${statusLine(s)}\n`);
        while (nextLineAt <= s.tMs) nextLineAt += everyMs;
      }
    },
    end(name) {
      if (quiet) return;
      stream.write(tty ? '\r\x1b[2K' : `${name} done\n`);
    },
  };
}
