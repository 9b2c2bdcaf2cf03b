export { PeerTransport } from './peer-transport.ts';
export type { PeerTransportOptions, PeerAddress, PeerStats, RoundTripStats } from './peer-transport.ts';
export { FrameDecoder, FrameError, encodeFrame, PROTOCOL_VERSION } from './frame.ts';
export type { Envelope } from './frame.ts';
export { BoundedFrameQueue, backoffDelay } from './queue.ts';
