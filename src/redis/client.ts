import { describeValue } from '../core/validate.js';
import type { TokenBucketScript } from './script.js';

// The Redis clients, described by what this module calls on them and nothing more: no
// client is imported, at run time or in the types, so `breakwater` installs none.

/** ioredis (4, 5): `evalsha(sha, numKeys, ...keysAndArgs)`; `status` is 'ready' when connected. */
export interface IoRedisLike {
  /** Runs a loaded script by its SHA1. */
  evalsha(sha1: string, numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** Loads and runs a script (when Redis does not know the SHA1 yet). */
  eval(script: string, numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** `'ready'` when connected. */
  readonly status?: string;
}

/** node-redis (4, 5): `evalSha(sha, { keys, arguments })`; `isReady` is true when connected. */
export interface NodeRedisLike {
  /** Runs a loaded script by its SHA1. */
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** Loads and runs a script (when Redis does not know the SHA1 yet). */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** True when connected. */
  readonly isReady?: boolean;
}

/** A connected ioredis or node-redis client (or anything with the same methods). */
export type RedisClientLike = IoRedisLike | NodeRedisLike;

/**
 * Runs the token-bucket script on one client shape. `run` sends EVALSHA; after a NOSCRIPT
 * reply (`isNoScript`), `load` runs the script text, which also puts it in the server's cache:
 * one round trip, not two. `ready()` says whether to send at all.
 */
export interface ScriptRunner {
  run(key: string, args: string[]): Promise<unknown>;
  load(key: string, args: string[]): Promise<unknown>;
  ready(): boolean;
}

/** True for the error a server answers EVALSHA with when its script cache lacks the script. */
export function isNoScript(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message.startsWith('NOSCRIPT');
}

/**
 * The client's own readiness, so no command is handed to a client that would hold it in its
 * offline queue while disconnected (a queue that replays stale decisions on reconnect).
 * ioredis: 'ready', or 'wait' (lazyConnect: the first command connects). node-redis: isReady.
 */
function readiness(client: Record<string, unknown>): () => boolean {
  if ('status' in client) {
    return () => {
      const status = client['status'];
      return status === 'ready' || status === 'wait' || typeof status !== 'string';
    };
  }
  if ('isReady' in client) return () => client['isReady'] !== false;
  return () => true;
}

/** Picks the calling convention from the methods the client has; TypeError when it has neither. */
export function scriptRunner(client: unknown, script: TokenBucketScript): ScriptRunner {
  if (typeof client !== 'object' || client === null) {
    throw new TypeError(
      `breakwater: option "client" must be a connected ioredis or node-redis client, received ${describeValue(client)}`,
    );
  }
  const methods = client as Record<string, unknown>;
  const ready = readiness(methods);
  const { lua, sha1 } = script;
  if (typeof methods['evalSha'] === 'function' && typeof methods['eval'] === 'function') {
    const redis = client as NodeRedisLike;
    return {
      ready,
      run: (key, args) => redis.evalSha(sha1, { keys: [key], arguments: args }),
      load: (key, args) => redis.eval(lua, { keys: [key], arguments: args }),
    };
  }
  if (typeof methods['evalsha'] === 'function' && typeof methods['eval'] === 'function') {
    const redis = client as IoRedisLike;
    return {
      ready,
      // Two arguments (Redis TIME) or three (a clock of the caller's): spelt out rather than spread on every decision.
      run: (key, args) =>
        args.length === 2
          ? redis.evalsha(sha1, 1, key, args[0]!, args[1]!)
          : redis.evalsha(sha1, 1, key, args[0]!, args[1]!, args[2]!),
      load: (key, args) => redis.eval(lua, 1, key, ...args),
    };
  }
  const present = ['evalsha', 'evalSha', 'eval'].filter((name) => typeof methods[name] === 'function');
  throw new TypeError(
    'breakwater: option "client" needs the methods evalsha and eval (ioredis) or evalSha and eval (node-redis); ' +
      `received an object with ${present.length === 0 ? 'none of them' : present.join(', ')}`,
  );
}
