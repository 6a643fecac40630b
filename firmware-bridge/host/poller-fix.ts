/**
 * A workaround for a lost-wakeup bug in @serialport/bindings-cpp's Unix poller (12.x), which
 * otherwise hangs a port for good under a steady write load.
 *
 * The binding reads and writes a non-blocking fd; on EAGAIN a read waits for the poller's
 * `readable` event and a write for its `writable` one. Both share one uv_poll_t, and the native
 * `poll(events)` starts it with the events of *that* call only, so asking for `readable`
 * silently cancels a pending `writable` and the other way round. When the host writes faster
 * than the device reads (a window of upload chunks fills a pty's ~4–16 KiB at once), the write
 * hits EAGAIN and waits for `writable`; the reader, done with the answers that came in, then
 * asks for `readable` and cancels it. The device has read everything and answered every whole
 * frame, so no byte ever comes back to wake the reader either: the rest of the write never goes
 * out, and every later write queues behind it. Short of that, each EAGAIN costs a wait until
 * the next answer happens to arrive.
 *
 * The fix: every poll() from JavaScript asks for the union of what is awaited (the event of
 * the call, plus each event that anyone listens for). The native side
 * re-arms, after each event, everything ever asked for minus what fired, so an event that fired
 * is asked for again only by its next waiter, through this path.
 */
import type { SerialPort } from 'serialport';

/** uv_poll event bits, as @serialport/bindings-cpp's Poller takes them. */
const UV_READABLE = 1;
const UV_WRITABLE = 2;
const UV_DISCONNECT = 4;

/** The part of bindings-cpp's Poller this touches (an EventEmitter with a `poll` method). */
interface PollerLike {
  poll(flags?: number): void;
  listenerCount(event: string): number;
}

const patched = new WeakSet<object>();

function isPoller(x: unknown): x is PollerLike {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Partial<PollerLike>;
  return typeof p.poll === 'function' && typeof p.listenerCount === 'function';
}

/**
 * Applies the workaround to an open port's poller. Idempotent; does nothing for a binding
 * without one (Windows, the mock binding of the tests).
 */
export function fixPollerInterest(port: SerialPort): void {
  const poller: unknown = (port.port as { poller?: unknown } | undefined)?.poller;
  if (!isPoller(poller) || patched.has(poller)) return;
  patched.add(poller);
  const poll = poller.poll.bind(poller);
  poller.poll = (flags = 0) => {
    let want = flags;
    if (poller.listenerCount('readable') > 0) want |= UV_READABLE;
    if (poller.listenerCount('writable') > 0) want |= UV_WRITABLE;
    if (poller.listenerCount('disconnect') > 0) want |= UV_DISCONNECT;
    poll(want);
  };
}
