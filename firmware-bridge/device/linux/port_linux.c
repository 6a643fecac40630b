/*
 * The virtual board's port (see port_linux.h). Faults on the device's output are applied in
 * port_write, which the engine calls once per frame: the whole frame is lost with probability
 * `drop`, every bit flips with probability `ber`, and it leaves after delay + U[0, jitter] ms,
 * never before a frame written earlier (a serial line does not reorder).
 */
#define _GNU_SOURCE /* getrandom */

#include "port_linux.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "port.h"

uint64_t lport_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lport_init(struct port *p, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->fd = -1;
  p->t0 = lport_now_ms();
  p->rng = seed;
}

/* splitmix64 (Steele, Lea, Flood 2014): small, fast, and plenty for fault injection. */
static uint64_t next64(struct port *p) {
  uint64_t z = (p->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double lport_uniform(struct port *p) {
  return (double)(next64(p) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t lport_upto(struct port *p, uint32_t n) {
  return (uint32_t)(next64(p) % ((uint64_t)n + 1u));
}

uint8_t lport_flip(struct port *p, uint8_t byte) {
  unsigned bit;
  if (p->ber <= 0.0) return byte;
  for (bit = 0; bit < 8u; bit++) {
    if (lport_uniform(p) < p->ber) {
      byte ^= (uint8_t)(1u << bit);
      p->bits_flipped++;
    }
  }
  return byte;
}

int lport_stage(struct port *p, uint8_t byte) {
  if (p->stage_len >= sizeof p->stage) return 0;
  p->stage[p->stage_len++] = byte;
  return 1;
}

size_t port_read(struct port *p, uint8_t *buf, size_t cap) {
  size_t n = p->stage_len - p->stage_pos;
  if (n > cap) n = cap;
  memcpy(buf, p->stage + p->stage_pos, n);
  p->stage_pos += n;
  if (p->stage_pos == p->stage_len) p->stage_pos = p->stage_len = 0;
  return n;
}

void port_write(struct port *p, const uint8_t *buf, size_t n) {
  struct port_frame *f;
  uint64_t due;
  size_t i;
  p->out_frames++;
  if (p->fd < 0) return; /* vanished: nobody on the other end */
  if (p->drop > 0.0 && lport_uniform(p) < p->drop) {
    p->out_dropped++;
    return;
  }
  if (p->q_count == PORT_QUEUE || n > sizeof f->data) {
    p->out_overflow++;
    return;
  }
  f = &p->q[(p->q_head + p->q_count) % PORT_QUEUE];
  for (i = 0; i < n; i++) f->data[i] = lport_flip(p, buf[i]);
  f->len = n;
  f->sent = 0;
  due = lport_now_ms() + p->delay_ms + (p->jitter_ms ? lport_upto(p, p->jitter_ms) : 0u);
  if (due < p->last_due) due = p->last_due;
  f->due = due;
  p->last_due = due;
  p->q_count++;
  /* Out at once when it is due, as a UART starts sending, not after the rest of the read the
   * request came in (the host's next upload chunks wait on this answer). */
  lport_flush(p, lport_now_ms());
}

int lport_flush(struct port *p, uint64_t now) {
  while (p->q_count > 0) {
    struct port_frame *f = &p->q[p->q_head];
    ssize_t w;
    if (f->due > now) return 0;
    if (p->fd < 0) {
      lport_discard(p);
      return 0;
    }
    w = write(p->fd, f->data + f->sent, f->len - f->sent);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return 1;
      /* EIO: no slave open (cannot happen while we hold it, but be safe): the bytes are lost,
       * as on a UART with nothing attached. */
      w = (ssize_t)(f->len - f->sent);
    }
    f->sent += (size_t)w;
    if (f->sent < f->len) return 1;
    p->q_head = (p->q_head + 1u) % PORT_QUEUE;
    p->q_count--;
  }
  return 0;
}

int lport_next_due(const struct port *p, uint64_t now) {
  uint64_t due;
  if (p->q_count == 0) return -1;
  due = p->q[p->q_head].due;
  return due <= now ? 0 : (int)(due - now);
}

void lport_discard(struct port *p) {
  p->q_head = 0;
  p->q_count = 0;
}

uint32_t port_millis(struct port *p) {
  return (uint32_t)(lport_now_ms() - p->t0);
}

uint32_t port_boot_id(struct port *p) {
  uint32_t id = 0;
  (void)p;
  /* The OS's entropy, not the fault RNG: a board restarted with the same --seed must still
   * come up with a new boot id, or a host would not notice it had reset. */
  if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) {
    id = (uint32_t)lport_now_ms() ^ ((uint32_t)getpid() << 16);
  }
  return id;
}

void port_reboot(struct port *p) {
  p->reboots++;
}
