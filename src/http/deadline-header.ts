// The deadline header's name, shared by the guards (which read it) and resilientFetch (which sends it).

/** The header name `resilientFetch` sends and `guard` reads when told to without a name. */
export const DEFAULT_DEADLINE_HEADER = 'x-request-timeout-ms';

/** A field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Checks a header-name option and returns it in lower case (Node's form for incoming headers). */
export function checkHeaderName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value;
    throw new TypeError(`breakwater: option "${option}" must be a header name, received ${shown}`);
  }
  return value.toLowerCase();
}
