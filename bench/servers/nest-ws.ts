// The WebSocket gateways of the Nest app (WsAdapter: the `ws` package, JSON {event, data}
// messages), on the HTTP server's port. The load client sends every server the same bytes:
// {"event":"echo","data":...} on /ws/echo, {"event":"publish","data":...} on /ws/pub, and
// expects them back unchanged; Nest parses them and serializes its answers, which come out
// byte for byte the same.
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Server } from 'ws';

@WebSocketGateway({ path: '/ws/echo' })
export class EchoGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown) {
    return { event: 'echo', data };
  }
}

/** Every connection here gets every message published on /ws/pub. */
@WebSocketGateway({ path: '/ws/sub' })
export class SubscribersGateway {
  @WebSocketServer()
  server!: Server;
}

@WebSocketGateway({ path: '/ws/pub' })
export class PublishGateway {
  constructor(private readonly subscribers: SubscribersGateway) {}

  @SubscribeMessage('publish')
  publish(@MessageBody() data: unknown) {
    const message = JSON.stringify({ event: 'publish', data });
    for (const client of this.subscribers.server.clients)
      if (client.readyState === client.OPEN) client.send(message);
  }
}

export const GATEWAYS = [EchoGateway, SubscribersGateway, PublishGateway];
