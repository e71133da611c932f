// A TCP proxy on real sockets, put between the gateway and PostgreSQL or Redis to play their outages:
//
//   pass()       listen and forward both ways; what a black hole held back is delivered now (as TCP would
//                retransmit it once a partition heals), and connections it accepted are connected onward
//   refuse()     stop listening (new connections: ECONNREFUSED) and reset every live connection: a server down
//   reset()      reset every live connection (RST both ways), keep listening: a server restart, a NAT flush
//   blackhole()  keep listening and accepting, forward nothing either way: a partition, packets dropped
//
// Data is held, never dropped, while black-holed; a side that closes its socket closes the other one.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

interface Link {
  client: Socket;
  /** Undefined while a connection accepted by a black hole waits for pass(). */
  upstream: Socket | undefined;
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private readonly links = new Set<Link>();
  private listening = false;
  /** Connections accepted since start (tests check that the gateway reconnects). */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('tcp-proxy: no address');
    const proxy = new TcpProxy(server, address.port, target);
    proxy.listening = true;
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  get state(): ProxyMode {
    return this.mode;
  }

  /** Live connections (client side). */
  get connections(): number {
    return this.links.size;
  }

  async pass(): Promise<void> {
    this.mode = 'pass';
    await this.listen();
    for (const link of this.links) {
      if (!link.upstream) this.connectUpstream(link);
      else this.flush(link);
    }
  }

  async refuse(): Promise<void> {
    this.mode = 'refuse';
    if (this.listening) {
      this.listening = false;
      this.server.close(); // stops accepting at once; its callback would wait for the live connections
    }
    this.reset();
  }

  reset(): void {
    for (const link of this.links) this.drop(link, true);
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    for (const link of this.links) this.drop(link, false);
    if (this.listening) {
      this.listening = false;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  private async listen(): Promise<void> {
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    const link: Link = { client, upstream: undefined, toUpstream: [], toClient: [] };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'pass' && link.upstream && link.toUpstream.length === 0) link.upstream.write(chunk);
      else link.toUpstream.push(chunk);
    });
    client.on('error', () => undefined);
    client.on('close', () => this.drop(link, false));
    if (this.mode === 'pass') this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    link.upstream = upstream;
    upstream.on('connect', () => this.flush(link));
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'pass' && link.toClient.length === 0) link.client.write(chunk);
      else link.toClient.push(chunk);
    });
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.drop(link, false));
  }

  private flush(link: Link): void {
    if (this.mode !== 'pass' || !link.upstream || link.upstream.connecting) return;
    for (const chunk of link.toUpstream.splice(0)) link.upstream.write(chunk);
    for (const chunk of link.toClient.splice(0)) link.client.write(chunk);
  }

  /** Ends a link: with a TCP reset (RST) or a plain close. */
  private drop(link: Link, rst: boolean): void {
    if (!this.links.delete(link)) return;
    for (const socket of [link.client, link.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (rst && !socket.connecting) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
