// Start an HTTP(S) server on host:port and learn the port it got (the OS picks one for port 0).
import type { Server } from 'node:net';

/** Listen; rejects with the listen error (EADDRINUSE, EACCES); resolves with the bound port. */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
