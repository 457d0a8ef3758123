import net from 'node:net';

/**
 * A TCP port nobody listens on right now, picked by the kernel. Another process can
 * still take it before the caller binds, so callers that start servers should expect
 * an occasional "address in use".
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await listen(server, 0, host);
  const address = server.address();
  await close(server);
  if (address === null || typeof address === 'string') {
    throw new Error(`could not read the port the kernel picked on ${host}`);
  }
  return address.port;
}

/** Whether `port` on `host` can be bound now, i.e. no other server holds it. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = net.createServer();
  try {
    await listen(server, port, host);
  } catch {
    return false;
  }
  await close(server);
  return true;
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // exclusive: without it a cluster primary could share the port and hide a conflict.
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}
