/** What drainOrClose waits on: an HTTP response, a socket, an MQTT client's connection. */
export interface Drainable {
  once(ev: 'drain' | 'close', cb: () => void): unknown;
  off(ev: 'drain' | 'close', cb: () => void): unknown;
}

/** Resolves when the stream drains or closes, and removes the other listener (one per chunk would pile up). */
export function drainOrClose(stream: Drainable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
