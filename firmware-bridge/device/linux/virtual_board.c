/*
 * The virtual board: the device engine (board.c) behind a pseudo-terminal, with the faults of
 * a real link on demand, for developing and testing hosts without hardware. The first line of
 * stdout is the serial port's path (and again after each --vanish-after); logs go to stderr.
 * Run with --help for the flags.
 *
 * One thread, one poll() loop: the pty master, a signalfd for SIGTERM/SIGINT/SIGHUP, and the
 * timers (delayed responses, the end of a stall or a vanish) as poll's timeout.
 */
#define _GNU_SOURCE /* signalfd */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "board.h"
#include "port_linux.h"
#include "pty.h"

/* Retry interval when the master reports no slave (EIO / POLLHUP). */
#define NO_SLAVE_BACKOFF_MS 50u
/* How long --vanish-after waits for the host to read the last answer before pulling the port,
 * and how often it looks meanwhile. */
#define VANISH_GRACE_MS 300u
#define VANISH_QUIET_MS 20u
#define VANISH_POLL_MS 2

struct options {
  const char *link;
  double ber, drop;
  uint32_t delay_ms, jitter_ms;
  unsigned long stall_after, reset_every, vanish_after;
  uint32_t stall_ms, vanish_ms;
  unsigned long raw_reply;
  uint64_t seed;
  int seed_given;
};

/* Everything of one virtual board: the device itself and the simulated cable around it. */
struct vboard {
  struct options opt;
  struct vpty pty;
  struct port port;
  struct board board;

  int in_frame;  /* non-zero bytes seen since the last delimiter from the host */
  int dropping;  /* the frame in progress is being lost (--drop) */
  unsigned long frames; /* non-empty frames received from the host */
  int stall_done, vanish_done;
  uint64_t stall_until;  /* discard input before this time */
  uint64_t vanish_pending; /* 0, or the latest time to vanish (waiting for output) */
  uint64_t quiet_since;    /* since when all output has been read (0: it has not) */
  uint64_t vanish_until; /* 0, or when the vanished port comes back */
  uint64_t backoff_until;/* do not poll the master before this (no slave) */
  unsigned reboots_logged;
  unsigned long in_dropped;
};

static void usage(FILE *to) {
  fputs(
      "usage: virtual-board [flags]\n"
      "\n"
      "A spikecap device (firmware-bridge/PROTOCOL.md) on a pseudo-terminal. The first line of\n"
      "stdout is the serial port's path; logs go to stderr. SIGTERM or SIGINT: clean exit.\n"
      "\n"
      "  --link PATH         keep a symlink at PATH to the pty, and print PATH instead\n"
      "  --ber RATE          flip each bit of every byte with probability RATE (both ways)\n"
      "  --drop RATE         lose each whole frame with probability RATE (both ways)\n"
      "  --delay MS          extra latency before each response\n"
      "  --jitter MS         plus a uniform random 0..MS of latency\n"
      "  --stall-after N     after N received frames, ignore all input for --stall-ms (once)\n"
      "  --stall-ms MS       length of the stall (default 1500)\n"
      "  --reset-every N     reboot after every N received frames (new boot id, model lost)\n"
      "  --vanish-after N    after N received frames, remove the port for --vanish-ms, then\n"
      "                      open a new one (same --link) and print its path again (once);\n"
      "                      the device keeps its model and state\n"
      "  --vanish-ms MS      how long the port is gone (default 1500)\n"
      "  --seed S            seed of the fault RNG (default: random, logged)\n"
      "  --raw-reply N       no protocol: answer every 0x00-ended chunk with N bytes (N-1 of\n"
      "                      0x55, then 0x00), for timing the bare pty (npm run bench -- serial)\n"
      "  --help              this text\n",
      to);
}

static void die_usage(const char *flag, const char *why) {
  fprintf(stderr, "virtual-board: %s: %s (see --help)\n", flag, why);
  exit(2);
}

static int is_digits(const char *s) {
  if (*s == '\0') return 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') return 0;
  }
  return 1;
}

static unsigned long parse_count(const char *flag, const char *v, unsigned long min,
                                 unsigned long max) {
  unsigned long x;
  errno = 0;
  x = is_digits(v) ? strtoul(v, NULL, 10) : 0;
  if (!is_digits(v) || errno != 0 || x < min || x > max) {
    char why[128];
    snprintf(why, sizeof why, "'%s' is not a whole number in %lu..%lu", v, min, max);
    die_usage(flag, why);
  }
  return x;
}

static double parse_rate(const char *flag, const char *v) {
  char *end;
  double x;
  errno = 0;
  x = strtod(v, &end);
  if (*v == '\0' || *end != '\0' || errno != 0 || !(x >= 0.0 && x <= 1.0)) {
    char why[128];
    snprintf(why, sizeof why, "'%s' is not a probability between 0 and 1", v);
    die_usage(flag, why);
  }
  return x;
}

static uint64_t parse_seed(const char *flag, const char *v) {
  char *end;
  unsigned long long x;
  errno = 0;
  x = strtoull(v, &end, 0);
  if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0) {
    die_usage(flag, "not an unsigned 64-bit integer");
  }
  return (uint64_t)x;
}

/* --flag VALUE and --flag=VALUE. Unknown flags and missing values exit 2. */
static void parse_args(int argc, char **argv, struct options *o) {
  int i;
  memset(o, 0, sizeof *o);
  o->stall_ms = 1500;
  o->vanish_ms = 1500;
  for (i = 1; i < argc; i++) {
    char name[64];
    const char *arg = argv[i], *val = NULL, *eq = strchr(arg, '=');
    size_t nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    if (nlen >= sizeof name) nlen = sizeof name - 1u;
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strncmp(name, "--", 2) != 0 ||
        (strcmp(name, "--link") != 0 && strcmp(name, "--ber") != 0 &&
         strcmp(name, "--drop") != 0 && strcmp(name, "--delay") != 0 &&
         strcmp(name, "--jitter") != 0 && strcmp(name, "--stall-after") != 0 &&
         strcmp(name, "--stall-ms") != 0 && strcmp(name, "--reset-every") != 0 &&
         strcmp(name, "--vanish-after") != 0 && strcmp(name, "--vanish-ms") != 0 &&
         strcmp(name, "--seed") != 0 && strcmp(name, "--raw-reply") != 0)) {
      die_usage(arg, "unknown flag");
    }
    if (eq != NULL) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      die_usage(name, "needs a value");
    }
    if (strcmp(name, "--link") == 0) {
      if (*val == '\0') die_usage(name, "needs a path");
      o->link = val;
    } else if (strcmp(name, "--ber") == 0) {
      o->ber = parse_rate(name, val);
    } else if (strcmp(name, "--drop") == 0) {
      o->drop = parse_rate(name, val);
    } else if (strcmp(name, "--delay") == 0) {
      o->delay_ms = (uint32_t)parse_count(name, val, 0, 600000);
    } else if (strcmp(name, "--jitter") == 0) {
      o->jitter_ms = (uint32_t)parse_count(name, val, 0, 600000);
    } else if (strcmp(name, "--stall-after") == 0) {
      o->stall_after = parse_count(name, val, 1, ULONG_MAX);
    } else if (strcmp(name, "--stall-ms") == 0) {
      o->stall_ms = (uint32_t)parse_count(name, val, 0, 3600000);
    } else if (strcmp(name, "--reset-every") == 0) {
      o->reset_every = parse_count(name, val, 1, ULONG_MAX);
    } else if (strcmp(name, "--vanish-after") == 0) {
      o->vanish_after = parse_count(name, val, 1, ULONG_MAX);
    } else if (strcmp(name, "--vanish-ms") == 0) {
      o->vanish_ms = (uint32_t)parse_count(name, val, 0, 3600000);
    } else if (strcmp(name, "--raw-reply") == 0) {
      o->raw_reply = parse_count(name, val, 1, BOARD_TX_BYTES);
    } else {
      o->seed = parse_seed(name, val);
      o->seed_given = 1;
    }
  }
}

/* The port's path as the first (or next) line of stdout, flushed: a parent reads it to know
 * where to connect. A parent that stopped reading must not kill us (SIGPIPE is ignored). */
static void announce(const struct vboard *v) {
  printf("%s\n", v->opt.link != NULL ? v->opt.link : v->pty.path);
  fflush(stdout);
  fprintf(stderr, "virtual-board: serial port %s%s%s (boot id %08x)\n", v->pty.path,
          v->opt.link != NULL ? " linked at " : "", v->opt.link != NULL ? v->opt.link : "",
          (unsigned)v->board.boot_id);
}

static void log_reboots(struct vboard *v, const char *why) {
  if (v->port.reboots != v->reboots_logged) {
    v->reboots_logged = v->port.reboots;
    fprintf(stderr, "virtual-board: rebooted (%s), boot id %08x\n", why,
            (unsigned)v->board.boot_id);
  }
}

/* Hands the staged bytes to the engine, which answers any request they complete. */
static void drain(struct vboard *v) {
  board_poll(&v->board);
  log_reboots(v, "RESET 1");
}

/* Whether the answer to the last frame has left: nothing in our queue (delayed or not) and
 * nothing unread in the pty (closing the master discards what the host has not read). */
static int output_drained(struct vboard *v, uint64_t now) {
  int unread = 0;
  if (lport_flush(&v->port, now) != 0) return 0;
  if (lport_next_due(&v->port, now) >= 0) return 0;
  if (ioctl(v->pty.slave, FIONREAD, &unread) != 0) return 1;
  return unread == 0;
}

/* The cable is pulled. Output still queued (a --delay longer than the grace) is lost. */
static void vanish(struct vboard *v, uint64_t now) {
  v->vanish_pending = 0;
  v->quiet_since = 0;
  fprintf(stderr, "virtual-board: port vanishes for %u ms\n", (unsigned)v->opt.vanish_ms);
  vpty_close(&v->pty);
  v->port.fd = -1;
  lport_discard(&v->port);
  v->vanish_until = now + v->opt.vanish_ms;
  if (v->vanish_until == 0) v->vanish_until = 1;
  v->in_frame = 0;
  v->dropping = 0;
}

/* The faults that count received frames, after frame number v->frames was handled. */
static void after_frame(struct vboard *v, uint64_t now) {
  const struct options *o = &v->opt;
  if (o->reset_every != 0 && v->frames % o->reset_every == 0) {
    board_reboot(&v->board);
    log_reboots(v, "--reset-every");
  }
  if (o->stall_after != 0 && !v->stall_done && v->frames >= o->stall_after) {
    v->stall_done = 1;
    v->stall_until = now + o->stall_ms;
    fprintf(stderr, "virtual-board: stalling for %u ms\n", (unsigned)o->stall_ms);
  }
  if (o->vanish_after != 0 && !v->vanish_done && v->frames >= o->vanish_after) {
    /* Let the host read this frame's answer first (up to VANISH_GRACE_MS), then pull. */
    v->vanish_done = 1;
    v->vanish_pending = now + VANISH_GRACE_MS;
  }
}

/* --raw-reply: the same pty, poll loop and output queue as the protocol, minus the protocol.
 * Each chunk the host ends with 0x00 gets one answer of the configured length, so a host can
 * time the bare round trip of the byte counts a request and its response have. */
static void on_raw_input(struct vboard *v, const uint8_t *buf, size_t n) {
  static uint8_t reply[BOARD_TX_BYTES];
  static int ready;
  const size_t len = (size_t)v->opt.raw_reply;
  size_t i;
  if (!ready) {
    memset(reply, 0x55, len - 1);
    reply[len - 1] = 0;
    ready = 1;
  }
  for (i = 0; i < n; i++) {
    if (buf[i] != 0) {
      v->in_frame = 1;
    } else if (v->in_frame) {
      v->in_frame = 0;
      v->frames++;
      port_write(&v->port, reply, len);
    }
  }
}

/* Bytes from the host, through the simulated wire: bit errors on every byte, then whole frames
 * lost, then the engine. A frame is the bytes up to a 0x00 as the device sees them (after the
 * bit errors), so a flipped delimiter merges or splits frames as on a real line. */
static void on_input(struct vboard *v, const uint8_t *buf, size_t n, uint64_t now) {
  size_t i;
  for (i = 0; i < n; i++) {
    const uint8_t c = lport_flip(&v->port, buf[i]);
    if (c != 0 && v->in_frame && !v->dropping && v->port.ber <= 0.0 && now >= v->stall_until &&
        v->vanish_pending == 0) {
      /* The common case, a clean wire inside a frame: the run up to the next delimiter goes
       * to the engine in one go, straight from the read buffer (after what is staged, to keep
       * the order). A run holds no delimiter, so it cannot end a frame or reboot the board. */
      const uint8_t *zero = memchr(buf + i, 0, n - i);
      const size_t run = (zero != NULL ? (size_t)(zero - buf) : n) - i;
      drain(v);
      board_feed(&v->board, buf + i, run);
      i += run - 1u; /* the loop's i++ lands on the delimiter, or ends */
      continue;
    }
    if (now < v->stall_until || v->vanish_pending != 0) continue;
    if (c != 0) {
      if (!v->in_frame) {
        v->in_frame = 1;
        v->dropping = v->opt.drop > 0.0 && lport_uniform(&v->port) < v->opt.drop;
        if (v->dropping) v->in_dropped++;
      }
      if (!v->dropping && !lport_stage(&v->port, c)) {
        drain(v);
        lport_stage(&v->port, c);
      }
      continue;
    }
    if (!v->in_frame) {
      if (!lport_stage(&v->port, 0)) {
        drain(v);
        lport_stage(&v->port, 0);
      }
      continue; /* a lone delimiter: not a frame */
    }
    if (!v->dropping && !lport_stage(&v->port, 0)) {
      drain(v);
      lport_stage(&v->port, 0);
    }
    v->in_frame = 0;
    v->dropping = 0;
    v->frames++;
    drain(v);
    after_frame(v, now);
  }
  drain(v);
}

static uint64_t random_seed(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = lport_now_ms() ^ (uint64_t)getpid();
  return s;
}

static int min_timeout(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

static int until(uint64_t t, uint64_t now) {
  if (t <= now) return 0;
  return t - now > (uint64_t)INT_MAX ? INT_MAX : (int)(t - now);
}

static struct vboard vb; /* the one instance: 2+ MiB, so not on the stack */

int main(int argc, char **argv) {
  struct vboard *v = &vb;
  sigset_t sigs;
  int sfd;

  parse_args(argc, argv, &v->opt);
  if (!v->opt.seed_given) v->opt.seed = random_seed();
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0 ||
      (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
    fprintf(stderr, "virtual-board: signalfd: %s\n", strerror(errno));
    return 1;
  }

  lport_init(&v->port, v->opt.seed);
  v->port.ber = v->opt.ber;
  v->port.drop = v->opt.drop;
  v->port.delay_ms = v->opt.delay_ms;
  v->port.jitter_ms = v->opt.jitter_ms;
  if (vpty_open(&v->pty, v->opt.link) != 0) return 1;
  v->port.fd = v->pty.master;
  board_init(&v->board, &v->port);
  announce(v);
  fprintf(stderr,
          "virtual-board: seed %llu, ber %g, drop %g, delay %u+%u ms, limits: payload %u, "
          "neurons %u, image %lu\n",
          (unsigned long long)v->opt.seed, v->opt.ber, v->opt.drop, (unsigned)v->opt.delay_ms,
          (unsigned)v->opt.jitter_ms, (unsigned)BOARD_MAX_PAYLOAD, (unsigned)BOARD_MAX_NEURONS,
          (unsigned long)BOARD_MAX_IMAGE);

  for (;;) {
    struct pollfd fds[2];
    nfds_t nfds = 1;
    uint64_t now = lport_now_ms();
    int timeout = -1, want_out, rc;

    if (v->vanish_until != 0) {
      if (now >= v->vanish_until) {
        v->vanish_until = 0;
        if (vpty_open(&v->pty, v->opt.link) != 0) break;
        v->port.fd = v->pty.master;
        announce(v);
      } else {
        timeout = until(v->vanish_until, now);
      }
    }
    if (v->vanish_pending != 0) {
      /* The pty moves written bytes to the reader's buffer asynchronously, so "nothing
       * unread" only counts once it has held for VANISH_QUIET_MS. */
      if (!output_drained(v, now)) {
        v->quiet_since = 0;
      } else if (v->quiet_since == 0) {
        v->quiet_since = now;
      }
      if (now >= v->vanish_pending ||
          (v->quiet_since != 0 && now - v->quiet_since >= VANISH_QUIET_MS)) {
        vanish(v, now);
        continue;
      }
      timeout = VANISH_POLL_MS;
    }
    want_out = v->pty.master >= 0 ? lport_flush(&v->port, now) : 0;
    timeout = min_timeout(timeout, want_out ? -1 : lport_next_due(&v->port, now));

    fds[0].fd = sfd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    if (v->pty.master >= 0) {
      if (now >= v->backoff_until) {
        fds[1].fd = v->pty.master;
        fds[1].events = (short)(POLLIN | (want_out ? POLLOUT : 0));
        fds[1].revents = 0;
        nfds = 2;
      } else {
        timeout = min_timeout(timeout, until(v->backoff_until, now));
      }
    }
    rc = poll(fds, nfds, timeout);
    if (rc < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "virtual-board: poll: %s\n", strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        fprintf(stderr, "virtual-board: %s, exiting\n", strsignal((int)si.ssi_signo));
      }
      vpty_close(&v->pty);
      fprintf(stderr,
              "virtual-board: %lu frames in (%lu dropped), %lu out (%lu dropped), "
              "%lu bits flipped\n",
              v->frames, v->in_dropped, v->port.out_frames, v->port.out_dropped,
              v->port.bits_flipped);
      return 0;
    }
    if (nfds == 2 && fds[1].revents != 0) {
      now = lport_now_ms();
      if (fds[1].revents & POLLIN) {
        /* Read all the pty holds (it buffers up to 64 KiB on its way in): fewer reads and
         * wakeups, and a host writing a window of upload chunks finds room again sooner. */
        static uint8_t buf[1u << 16];
        ssize_t n = read(v->pty.master, buf, sizeof buf);
        if (n > 0 && v->opt.raw_reply != 0) {
          on_raw_input(v, buf, (size_t)n);
        } else if (n > 0) {
          on_input(v, buf, (size_t)n, now);
        } else if (n < 0 && errno == EIO) {
          v->backoff_until = now + NO_SLAVE_BACKOFF_MS; /* no slave open */
        }
      } else if (fds[1].revents & (POLLHUP | POLLERR)) {
        v->backoff_until = now + NO_SLAVE_BACKOFF_MS;
      }
    }
  }
  vpty_close(&v->pty);
  return 1;
}
