import { Agent, get } from 'node:http';

/** What a request on a {@link KeptConnection} got. */
export interface KeptReply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  /** Whether it went on the connection an earlier request opened. */
  reused: boolean;
}

/**
 * One keep-alive connection to a server, opened by the first request and reused by the next
 * ones (an agent of one socket): for what a server does to connections that were open before
 * it began to drain, whose listener no longer accepts new ones.
 */
export class KeptConnection {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly base: string) {}

  /** GETs `path`; rejects when the connection fails. */
  get(path: string): Promise<KeptReply> {
    return new Promise((resolve, reject) => {
      const req = get(`${this.base}${path}`, { agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode as number,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
            headers: res.headers,
            reused: req.reusedSocket,
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
