// Small networking helpers shared by the demo's servers and clients.

/** Listens on 127.0.0.1 on an ephemeral port; resolves with the port. */
export function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}
