// A real redis-server for the tests: started on a free loopback port with no persistence, in
// a temporary directory, and stopped afterwards. Helpers stop, restart and slow it mid-test.
// Never a mock: when redis-server is missing, the Redis tests are skipped locally (with the
// command that installs it) and fail under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';

/** Reads a bucket's key in either form (see src/redis/script.ts): the string's doubles, or the hash. */
const BUCKET_OF = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  local level, at = struct.unpack('<dd', redis.call('GET', KEYS[1]))
  return { 'l', string.format('%.17g', level), 'a', string.format('%.17g', at) }
elseif kind == 'hash' then
  return redis.call('HGETALL', KEYS[1])
end
return {}
`;

export const INSTALL_HINT = 'apt-get install -y redis-server';

export const redisServerInstalled: boolean =
  spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;

/**
 * `describe` for tests that need a real server: skipped with a message when redis-server is
 * not installed, except under CI=true, where the missing server is a failing test.
 */
export function describeRedis(name: string, body: () => void): void {
  if (redisServerInstalled) {
    describe(name, body);
    return;
  }
  if (process.env['CI'] === 'true' || process.env['CI'] === '1') {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(`redis-server is not installed; CI must install it: ${INSTALL_HINT}`);
      });
    });
    return;
  }
  console.warn(`[redis tests] skipped "${name}": redis-server is not installed. Install it with: ${INSTALL_HINT}`);
  describe.skip(name, body);
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; it is free when this returns). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export type Reply = string | number | null | Reply[] | Error;

/** Parses one RESP2 reply from `buffer` at `offset`; undefined when incomplete. */
function parseReply(buffer: Buffer, offset: number): { value: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** One command on a fresh connection (the admin channel, independent of the clients under test). */
export function rawCommand(port: number, ...args: string[]): Promise<Reply> {
  return sendCommand(port, args, () => {});
}

function sendCommand(port: number, args: readonly string[], onSent: () => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`, onSent);
    });
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const reply = parseReply(data, 0);
      if (reply === undefined) return;
      socket.destroy();
      resolve(reply.value);
    });
    socket.on('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/** Real-time pause, for the few places that wait on a real process (startup, shutdown). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class RedisServer {
  private process: ChildProcess | undefined = undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir = mkdtempSync(join(tmpdir(), 'breakwater-redis-'));
  private log = '';

  private constructor(readonly port: number) {}

  /** Starts a server on a free loopback port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        // Another process may have taken the port between the probe and the start.
        lastError = error;
        await server.close();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** (Re)starts the server on the same port, empty (nothing is persisted). */
  async restart(): Promise<void> {
    if (this.process !== undefined) return;
    const child = spawn(
      'redis-server',
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--enable-debug-command', 'local',
        '--daemonize', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.log = '';
    child.stdout!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    let gone = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        gone = true;
        if (this.process === child) this.process = undefined;
        resolve();
      });
    });
    this.process = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (gone) throw new Error(`redis-server exited at start on port ${this.port}:\n${this.log}`);
      try {
        if ((await rawCommand(this.port, 'PING')) === 'PONG') return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING on port ${this.port}:\n${this.log}`);
      }
      await pause(20);
    }
  }

  /** Stops the server (SIGTERM; clients see their connections close) and waits until it exited. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(killer);
  }

  /**
   * Blocks the server for `ms` (DEBUG SLEEP): every client waits. Resolves once the command
   * has been written (plus 10 ms for the server to read it); `done` settles when it answers again.
   */
  async slow(ms: number): Promise<{ done: Promise<Reply> }> {
    let sent!: () => void;
    const written = new Promise<void>((resolve) => (sent = resolve));
    const done = sendCommand(this.port, ['DEBUG', 'SLEEP', String(ms / 1000)], sent);
    await written;
    await pause(10);
    return { done };
  }

  command(...args: string[]): Promise<Reply> {
    return rawCommand(this.port, ...args);
  }

  /**
   * A bucket's key as the limiter left it: `{}` for no key, `{ l, a }` (the two doubles of the
   * string form, as %.17g text) while nobody waits, and the hash's fields while callers wait.
   */
  async bucket(key: string): Promise<Record<string, string>> {
    const flat = (await this.command('EVAL', BUCKET_OF, '1', key)) as string[];
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return fields;
  }

  /** Calls of each command since the last CONFIG RESETSTAT (INFO commandstats). */
  async commandCalls(): Promise<Record<string, number>> {
    const info = await this.command('INFO', 'commandstats');
    const calls: Record<string, number> = {};
    for (const match of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
    return calls;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
