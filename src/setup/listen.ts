/**
 * @module setup/listen
 * Starts a server on an address and port, and turns a failure into an error that says which endpoint, why, and
 * what to do.
 */
import type { Server, Socket } from 'node:net';

export class ListenError extends Error {
  override readonly name = 'ListenError';
}

function advice(code: string | undefined, address: string, port: number): string {
  switch (code) {
    case 'EACCES':
      return `permission denied: ports below 1024 need privileges. Run as root, or let node bind them with `
        + `'sudo setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")"', or lower the limit with `
        + `'sudo sysctl net.ipv4.ip_unprivileged_port_start=443'. (The official HTTPS clients only reach port 443, `
        + `so choosing another port works only for clients you control.)`;
    case 'EADDRINUSE':
      return `the address is already in use: another program (or another 'opendps serve') listens on ${address}:${port}. `
        + `Stop it, or give OpenDPS other addresses with --dps-host/--hub-hosts (every 127.x.y.z address is local on Linux).`;
    case 'EADDRNOTAVAIL':
      return `the address ${address} is not configured on this machine. On Linux every 127.x.y.z is local; on macOS add `
        + `an alias first ('sudo ifconfig lo0 alias ${address}').`;
    default:
      return code ?? 'unknown error';
  }
}

const sockets = new WeakMap<Server, Set<Socket>>();

/**
 * Stops accepting, ends every open connection (HTTP keep-alive, MQTT sessions, WebSockets) and waits. `graceful`:
 * each connection is ended (what was written is still sent: a last answer reaches its device) and destroyed only if
 * it has not closed within a second.
 */
export function closeServer(server: Server, opts: { graceful?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets.get(server) ?? []) {
      if (!opts.graceful) { s.destroy(); continue; }
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    }
  });
}

/** Keeps the server's open connections, for `closeServer`. */
function trackOpen(server: Server): void {
  const open = new Set<Socket>();
  sockets.set(server, open);
  server.on('connection', (s: Socket) => { open.add(s); s.once('close', () => open.delete(s)); });
}

/** Listens on a Unix socket path (internal listeners, transport/tls-workers.ts); closed like the others. */
export function listenOnPath(server: Server, what: string, path: string): Promise<void> {
  trackOpen(server);
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(`Cannot listen on ${path} for ${what}: ${err.code ?? err.message}`)));
    server.listen(path, () => resolve());
  });
}

export function listen(server: Server, what: string, address: string, port: number): Promise<void> {
  trackOpen(server);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(new ListenError(`Cannot listen on ${address}:${port} for ${what}: ${advice(err.code, address, port)}`));
    };
    const onListening = () => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, address);
  });
}
