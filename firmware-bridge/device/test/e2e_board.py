#!/usr/bin/env python3
"""End-to-end test of the virtual board over its pseudo-terminal.

Builds the model image of PROTOCOL.md section 6 from config/reservoir.spkb (parsing the bundle
itself, per agent/model/BUNDLE.md), uploads it, steps random inputs, and compares the features,
spike counts and final state bit for bit with the native addon (test/reference.mjs). Then does
the same through a small retrying host over a link with bit errors, lost frames, latency,
resets, a stall and a vanishing port, and checks the result is still exact.

    python3 firmware-bridge/device/test/e2e_board.py [BUNDLE] [--quick]
        (after make -C firmware-bridge/device; BUNDLE defaults to config/reservoir.spkb,
        --quick runs the clean link only)

This is a test client, not the host side (that is host/, in TypeScript).
"""
import errno
import hashlib
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tty
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
VB = os.path.join(ROOT, 'build', 'device', 'virtual-board')
BUNDLE = os.path.join(ROOT, 'config', 'reservoir.spkb')

HELLO, BEGIN, CHUNK, DONE, STEP, GET, SET, RESET, STATS, PING, ERROR = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xFF)
E_VERSION, E_BOOT = 1, 4

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAIL: ' + what, file=sys.stderr)


# ---- framing ------------------------------------------------------------------------------

def cobs_encode(data):
    out, block = bytearray(), bytearray()
    for i, b in enumerate(data):
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254 and i + 1 < len(data):
                out += b'\xff' + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def cobs_decode(enc):
    out, i = bytearray(), 0
    while i < len(enc):
        code = enc[i]
        if code == 0 or i + code > len(enc):
            return None
        out += enc[i + 1:i + code]
        i += code
        if code != 0xFF and i < len(enc):
            out.append(0)
    return bytes(out)


def frame(version, typ, seq, boot, payload):
    head = struct.pack('<BBHHHI', version, typ, seq & 0xFFFF, len(payload), 0, boot)
    body = head + payload
    return b'\x00' + cobs_encode(body + struct.pack('<I', zlib.crc32(body))) + b'\x00'


class Disconnected(Exception):
    pass


class Link:
    """The serial port: frames out, checked frames in."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.buf = bytearray()
        self.open()

    def open(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIOFLUSH)
        self.buf = bytearray()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def send(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self.fd], [], 0.1)
            except OSError as e:
                raise Disconnected(str(e))

    def recv(self, deadline):
        """The next well-formed frame (bytes, CRC checked) before deadline, or None."""
        while True:
            while 0 in self.buf:
                i = self.buf.index(0)
                enc, self.buf = bytes(self.buf[:i]), self.buf[i + 1:]
                if not enc:
                    continue
                raw = cobs_decode(enc)
                if raw is None or len(raw) < 16:
                    continue
                if zlib.crc32(raw[:-4]) != struct.unpack_from('<I', raw, len(raw) - 4)[0]:
                    continue
                return raw[:-4]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return None
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            except OSError as e:
                raise Disconnected(str(e))
            if not chunk:
                raise Disconnected('EOF')
            self.buf += chunk


class DeviceError(Exception):
    def __init__(self, code, detail, text):
        super().__init__('E%d detail %d: %s' % (code, detail, text))
        self.code, self.detail = code, detail


class Reset(Exception):
    pass


class Timeout(Exception):
    pass


class Host:
    """Stop and wait, retries of identical frames, boot id tracking (PROTOCOL.md 4)."""

    def __init__(self, link, timeout=0.5, retries=6):
        self.link, self.timeout, self.retries = link, timeout, retries
        self.seq, self.boot = random.randrange(65536), 0
        self.retried = self.stale = 0

    def request(self, typ, payload=b'', boot=None, version=1):
        self.seq = (self.seq + 1) & 0xFFFF
        data = frame(version, typ, self.seq, self.boot if boot is None else boot, payload)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            self.link.send(data)
            deadline = time.monotonic() + self.timeout
            while True:
                raw = self.link.recv(deadline)
                if raw is None:
                    break
                ver, rtyp, seq, length, _flags, boot_id = struct.unpack_from('<BBHHHI', raw)
                if ver != 1 or seq != self.seq or rtyp not in (typ | 0x80, ERROR) \
                        or length != len(raw) - 12:
                    self.stale += 1
                    continue
                body = raw[12:]
                if typ != HELLO and self.boot != 0 and boot_id != self.boot:
                    raise Reset()
                if rtyp == ERROR:
                    code, _z, detail = struct.unpack_from('<HHI', body)
                    if code == E_BOOT and typ != HELLO:
                        raise Reset()
                    raise DeviceError(code, detail, body[8:].decode(errors='replace'))
                if typ == HELLO:
                    self.boot = boot_id
                return body
        raise Timeout()

    def hello(self):
        b = self.request(HELLO, boot=0)
        f = struct.unpack_from('<HHIHHHHHHHHIBBHI', b)
        return {
            'proto': (f[0], f[1]), 'boot': f[2], 'fw': f[3:6], 'max_payload': f[6],
            'max_neurons': f[7], 'max_inputs': f[8], 'max_fanout': f[9], 'max_substeps': f[10],
            'max_image': f[11], 'model_loaded': f[12], 'upload_active': f[13],
            'upload_offset': f[15], 'model_sha': b[36:68], 'upload_sha': b[68:100],
            'name': b[100:132].rstrip(b'\x00').decode(),
        }

    def upload(self, image, chunk):
        sha = hashlib.sha256(image).digest()
        off = struct.unpack('<I', self.request(BEGIN, struct.pack('<I', len(image)) + sha))[0]
        while off < len(image):
            part = image[off:off + chunk]
            off = struct.unpack('<I', self.request(CHUNK, struct.pack('<I', off) + part))[0]
        return self.request(DONE) == sha

    def step(self, inputs, samples):
        b = self.request(STEP, struct.pack('<H', samples) + inputs)
        return struct.unpack_from('<I', b)[0], b[4:]


# ---- the model ----------------------------------------------------------------------------

def bundle_image(path):
    """The image of PROTOCOL.md section 6, from the bundle's bytes (BUNDLE.md layout)."""
    b = open(path, 'rb').read()
    assert b[:8] == b'SPKCAPMB'
    _version, length, hlen = struct.unpack_from('<III', b, 8)
    m = json.loads(b[20:20 + hlen])['model']
    n, i, f = m['neurons'], m['inputs'], m['fanout']
    off = 20 + hlen
    arrays = {}
    for name, size in (('threshold', 2 * n), ('bias', 2 * n), ('dash_syn', n), ('dash_mem', n),
                       ('in_target', 2 * i * f), ('in_weight', i * f),
                       ('rec_target', 2 * n * f), ('rec_weight', n * f)):
        off = (off + 7) & ~7
        arrays[name] = b[off:off + size]
        off += size
    img = b'SCIM' + struct.pack('<9I', 1, n, i, f, m['substeps'], m['weight_shift_in'],
                                m['weight_shift_rec'], m['trace_dash'], m['trace_shift'])
    img += b[length - 32:length]  # the bundle's own SHA-256, for `board info`
    for name in ('threshold', 'bias', 'in_target', 'rec_target', 'dash_syn', 'dash_mem',
                 'in_weight', 'rec_weight'):
        img += arrays[name]
    assert len(img) == 72 + 6 * n + 3 * i * f + 3 * n * f
    return img, m


def reference(inputs, n):
    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, 'in.bin'), os.path.join(d, 'out.bin')
        open(src, 'wb').write(inputs)
        subprocess.run(['node', os.path.join(HERE, 'reference.mjs'), BUNDLE, src, out],
                       check=True)
        b = open(out, 'rb').read()
    feats = len(b) - 7 * n - 4
    return b[:feats], b[feats:feats + 7 * n], struct.unpack_from('<I', b, len(b) - 4)[0]


def random_inputs(rng, samples, per):
    return bytes(rng.choice((0, 0, 0, 1, 1, 2, 3, 17)) for _ in range(samples * per))


# ---- the virtual board --------------------------------------------------------------------

class Board:
    def __init__(self, *flags):
        self.proc = subprocess.Popen([VB] + list(flags), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.path = self.proc.stdout.readline().decode().strip()
        assert self.path, 'virtual-board printed no path'

    def next_path(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().decode().strip() if r else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(5)
        err = self.proc.stderr.read().decode()
        return rc, err


# ---- tests --------------------------------------------------------------------------------

def test_clean(image, model, rng):
    n, per = model['neurons'], model['substeps'] * model['inputs']
    link_path = os.path.join(tempfile.mkdtemp(), 'board')
    vb = Board('--link', link_path)
    check(vb.path == link_path and os.readlink(link_path).startswith('/dev/pts/'), 'link')
    link = Link(vb.path)
    host = Host(link)
    h = host.hello()
    check(h['proto'] == (1, 0) and h['fw'] == (0, 1, 0), 'HELLO versions')
    check(h['name'] == 'spikecap-virtual-board' and h['boot'] != 0, 'HELLO name/boot')
    check(h['max_payload'] == 8192 and h['max_neurons'] == 1024 and
          h['max_image'] >= len(image), 'HELLO limits')
    check(h['model_loaded'] == 0 and h['model_sha'] == bytes(32), 'HELLO no model')

    data = bytes(rng.randrange(256) for _ in range(5000))
    check(host.request(PING, data) == data, 'PING echo')
    try:
        host.request(STATS, boot=host.boot ^ 1)
        check(False, 'E_BOOT expected')
    except Reset:
        check(True, '')
    try:
        host.request(PING, version=2)
        check(False, 'E_VERSION expected')
    except DeviceError as e:
        check(e.code == E_VERSION and e.detail == 1, 'E_VERSION detail')

    # Upload with an interruption and a resume.
    sha = hashlib.sha256(image).digest()
    begin = struct.pack('<I', len(image)) + sha
    check(host.request(BEGIN, begin) == b'\0\0\0\0', 'BEGIN offset 0')
    off, chunk = 0, 8188
    while off < len(image) // 2:
        off = struct.unpack('<I', host.request(CHUNK, struct.pack('<I', off) +
                                               image[off:off + chunk]))[0]
    h = host.hello()
    check(h['upload_active'] == 1 and h['upload_offset'] == off and h['upload_sha'] == sha,
          'HELLO upload in progress')
    check(struct.unpack('<I', host.request(BEGIN, begin))[0] == off, 'resumed offset')
    check(host.upload(image, chunk), 'UPLOAD_DONE sha')
    h = host.hello()
    check(h['model_loaded'] == 1 and h['model_sha'] == sha, 'HELLO model loaded')

    # STEP in pieces as large as max_payload allows, against the native addon.
    total = 240
    inputs = random_inputs(rng, total, per)
    max_k = (8192 - 4) // (4 * n)
    feats, spikes, i, mid_state = bytearray(), 0, 0, None
    while i < total:
        k = min(max_k, total - i, 120 - i if i < 120 else total)
        s, f = host.step(inputs[i * per:(i + k) * per], k)
        check(len(f) == k * 4 * n, 'STEP response length')
        feats += f
        spikes += s
        i += k
        if i == 120:
            mid_state = host.request(GET)
    state = host.request(GET)
    ref_feats, ref_state, ref_spikes = reference(inputs, n)
    check(bytes(feats) == ref_feats, 'features bit-exact against the native addon')
    check(state == ref_state, 'final state bit-exact against the native addon')
    check(spikes == ref_spikes, 'spike count (%d vs %d)' % (spikes, ref_spikes))
    print('clean link: %d samples, %d spikes, features and state equal to the addon'
          % (total, spikes))

    # Back to the middle state, replay the second half: the same features again.
    check(host.request(SET, mid_state) == b'', 'SET_STATE')
    again = bytearray()
    for j in range(120, total, max_k):
        k = min(max_k, total - j)
        again += host.step(inputs[j * per:(j + k) * per], k)[1]
    check(bytes(again) == ref_feats[120 * 4 * n:], 'replay from SET_STATE')
    check(host.request(GET) == ref_state, 'state after replay')

    st = struct.unpack('<10I', host.request(STATS))
    check(st[8] == total + (total - 120) and st[6] == 0 and st[4] == 0, 'STATS %r' % (st,))
    check(host.request(RESET, b'\x00') == b'' and host.request(GET) == bytes(7 * n), 'RESET 0')
    old = host.boot
    check(host.request(RESET, b'\x01') == b'', 'RESET 1 answered')
    h = host.hello()
    check(h['boot'] != old and h['model_loaded'] == 0, 'RESET 1 rebooted')
    link.close()
    rc, err = vb.stop()
    check(rc == 0 and not os.path.lexists(link_path), 'clean exit removes the link')


class Session:
    """A host that survives the faults: checkpoints every `every` samples, and after any doubt
    (timeout, reset, vanished port) says HELLO, re-uploads if the model is gone, restores the
    checkpoint and replays the inputs since."""

    def __init__(self, path, image, model, every=16, chunk=2048):
        self.path, self.image, self.model = path, image, model
        self.sha = hashlib.sha256(image).digest()
        self.every, self.chunk = every, chunk
        self.link = Link(path)
        self.host = Host(self.link, timeout=0.12, retries=8)
        self.resets = self.timeouts = self.reconnects = self.uploads = 0

    def reconnect(self):
        self.link.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.link.open()
                self.reconnects += 1
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError('port did not come back')

    def sync(self, ckpt, inputs, ckpt_i, i, per):
        boot = self.host.boot
        h = self.host.hello()
        if h['boot'] != boot or not h['model_loaded'] or h['model_sha'] != self.sha:
            if not self.host.upload(self.image, self.chunk):
                raise RuntimeError('upload hash mismatch')
            self.uploads += 1
        self.host.request(SET, ckpt)
        for j in range(ckpt_i, i):  # replay; the features are the same, so discard them
            self.host.step(inputs[j * per:(j + 1) * per], 1)

    def run(self, inputs, total):
        n, per = self.model['neurons'], self.model['substeps'] * self.model['inputs']
        feats, spikes = [None] * total, [0] * total
        ckpt, ckpt_i, i, need_sync = bytes(7 * n), 0, 0, True
        while i < total:
            try:
                if need_sync:
                    self.sync(ckpt, inputs, ckpt_i, i, per)
                    need_sync = False
                spikes[i], feats[i] = self.host.step(inputs[i * per:(i + 1) * per], 1)
                i += 1
                if i - ckpt_i >= self.every:
                    ckpt, ckpt_i = self.host.request(GET), i
            except Reset:
                self.resets += 1
                need_sync = True
            except Timeout:
                self.timeouts += 1
                need_sync = True
            except Disconnected:
                self.reconnect()
                need_sync = True
        return b''.join(feats), sum(spikes), self.host.request(GET)


def faulty_run(image, model, rng, name, flags, total, expect_paths=1):
    n, per = model['neurons'], model['substeps'] * model['inputs']
    link_path = os.path.join(tempfile.mkdtemp(), 'board')
    vb = Board('--link', link_path, *flags)
    sess = Session(vb.path, image, model)
    inputs = random_inputs(rng, total, per)
    t0 = time.monotonic()
    feats, spikes, state = sess.run(inputs, total)
    dt = time.monotonic() - t0
    paths = 1
    while vb.next_path(0.05):
        paths += 1
    sess.link.close()
    rc, err = vb.stop()
    ref_feats, ref_state, ref_spikes = reference(inputs, n)
    ok = feats == ref_feats and state == ref_state and spikes == ref_spikes
    check(ok, '%s: result differs from the addon' % name)
    check(paths == expect_paths, '%s: %d paths printed, expected %d' % (name, paths,
                                                                         expect_paths))
    check(rc == 0, '%s: exit code %s' % (name, rc))
    h = sess.host
    print('%s: %d samples in %.1f s, exact: %s; retries %d, stale %d, timeouts %d, resets %d, '
          'reconnects %d, uploads %d' % (name, total, dt, ok, h.retried, h.stale,
                                         sess.timeouts, sess.resets, sess.reconnects,
                                         sess.uploads))
    print('  ' + err.strip().splitlines()[-1])


def main():
    global BUNDLE
    args = sys.argv[1:]
    quick = '--quick' in args
    args = [a for a in args if a != '--quick']
    if args:
        BUNDLE = os.path.abspath(args[0])
    if not os.path.exists(VB):
        sys.exit('build the virtual board first: make -C firmware-bridge/device')
    rng = random.Random(1)
    image, model = bundle_image(BUNDLE)
    print('model %s: %d neurons, %d inputs, fan-out %d, %d sub-steps, image %d bytes'
          % (os.path.basename(BUNDLE), model['neurons'], model['inputs'], model['fanout'],
             model['substeps'], len(image)))
    test_clean(image, model, rng)
    if quick:
        print('%d passed, %d failed' % (passed, failed))
        sys.exit(1 if failed else 0)
    faulty_run(image, model, rng, 'bit errors + drops + latency',
               ['--ber', '1e-5', '--drop', '0.03', '--delay', '2', '--jitter', '6',
                '--seed', '7'], 300)
    # Resets often, but not so often that an upload (2 KiB chunks) can never finish.
    every = max(150, 2 * (len(image) // 2048) + 60)
    faulty_run(image, model, rng, 'resets', ['--reset-every', str(every), '--drop', '0.01',
                                             '--seed', '8'], 300)
    faulty_run(image, model, rng, 'stall + vanish',
               ['--stall-after', '60', '--stall-ms', '700', '--vanish-after', '160',
                '--vanish-ms', '700', '--seed', '9'], 200, expect_paths=2)
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
