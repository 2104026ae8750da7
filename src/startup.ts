/**
 * Startup failures: a command that cannot start (a port held by another process,
 * a dependency it needs at boot) throws {@link StartupError}; the CLI prints its
 * message as one line naming what failed and exits 1 (bad config stays exit 2).
 */
import { once } from 'node:events';
import { createServer } from 'node:net';

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** "address in use" for EADDRINUSE etc.: the reason a bind failed, in words. */
function reasonOf(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'address already in use (another process holds it)';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EADDRNOTAVAIL') return 'address not available on this machine';
  return err.code ?? err.message;
}

/** The one-line message for a port that could not be bound, e.g. "listen.port 8080 (0.0.0.0): address already in use …". */
export function portFailure(key: string, host: string, port: number, err: NodeJS.ErrnoException): StartupError {
  return new StartupError(`${key} ${port} (${host}): ${reasonOf(err)}`);
}

/**
 * Check that nobody holds host:port by binding it exclusively for a moment (Node's
 * net server never sets SO_REUSEPORT, so a socket another process holds, with or
 * without it, makes this fail). Throws {@link StartupError} naming `key`.
 */
export async function assertPortFree(key: string, host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  try {
    server.listen({ port, host, exclusive: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  } catch (err) {
    throw portFailure(key, host, port, err as NodeJS.ErrnoException);
  }
  await new Promise((resolve) => server.close(resolve));
}

/** Why host:port could not be bound, found by trying it with node:net (uWS reports only false). */
export async function explainListenFailure(key: string, host: string, port: number): Promise<StartupError> {
  try {
    await assertPortFree(key, host, port);
  } catch (err) {
    if (err instanceof StartupError) return err;
  }
  return new StartupError(`${key} ${port} (${host}): cannot listen`);
}
