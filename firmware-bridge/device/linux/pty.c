/*
 * Pseudo-terminal handling of the virtual board (see pty.h).
 *
 * We hold an fd on the slave side for the pty's whole life: without it the master reads EIO
 * and polls POLLHUP whenever no host has the port open, and the line discipline settings would
 * revert to cooked mode (echo, CR/LF translation) each time the last host closes it, so the
 * first bytes of the next host would be echoed back or mangled.
 */
#define _GNU_SOURCE /* posix_openpt, ptsname, cfmakeraw */

#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int fail(struct vpty *t, const char *what) {
  fprintf(stderr, "virtual-board: %s: %s\n", what, strerror(errno));
  vpty_close(t);
  return -1;
}

/* Points t->link at t->path: a new symlink renamed over the old one, so a host reopening the
 * path never finds it missing half-way. Refuses to replace anything but a symlink. */
static int make_link(struct vpty *t) {
  struct stat st;
  char tmp[4200];
  if (lstat(t->link, &st) == 0 && !S_ISLNK(st.st_mode)) {
    fprintf(stderr, "virtual-board: --link %s: exists and is not a symlink; not replacing it\n",
            t->link);
    return -1;
  }
  if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", t->link, (long)getpid()) >= (int)sizeof tmp) {
    fprintf(stderr, "virtual-board: --link %s: path too long\n", t->link);
    return -1;
  }
  unlink(tmp);
  if (symlink(t->path, tmp) != 0 || rename(tmp, t->link) != 0) {
    fprintf(stderr, "virtual-board: --link %s: %s\n", t->link, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int vpty_open(struct vpty *t, const char *link) {
  struct termios tio;
  const char *name;
  int flags;
  t->master = -1;
  t->slave = -1;
  t->path[0] = '\0';
  t->link = link;
  t->master = posix_openpt(O_RDWR | O_NOCTTY);
  if (t->master < 0) return fail(t, "posix_openpt");
  if (grantpt(t->master) != 0) return fail(t, "grantpt");
  if (unlockpt(t->master) != 0) return fail(t, "unlockpt");
  name = ptsname(t->master);
  if (name == NULL) return fail(t, "ptsname");
  if (strlen(name) >= sizeof t->path) {
    errno = ENAMETOOLONG;
    return fail(t, "ptsname");
  }
  strcpy(t->path, name);
  t->slave = open(t->path, O_RDWR | O_NOCTTY);
  if (t->slave < 0) return fail(t, t->path);
  if (tcgetattr(t->slave, &tio) != 0) return fail(t, "tcgetattr");
  cfmakeraw(&tio);
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;
  if (tcsetattr(t->slave, TCSANOW, &tio) != 0) return fail(t, "tcsetattr");
  flags = fcntl(t->master, F_GETFL);
  if (flags < 0 || fcntl(t->master, F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail(t, "fcntl");
  }
  if (fcntl(t->master, F_SETFD, FD_CLOEXEC) != 0 || fcntl(t->slave, F_SETFD, FD_CLOEXEC) != 0) {
    return fail(t, "fcntl");
  }
  if (t->link != NULL && make_link(t) != 0) {
    t->link = NULL; /* not ours to remove */
    vpty_close(t);
    return -1;
  }
  return 0;
}

void vpty_close(struct vpty *t) {
  if (t->link != NULL && t->path[0] != '\0') {
    char target[sizeof t->path];
    ssize_t n = readlink(t->link, target, sizeof target - 1u);
    if (n >= 0) {
      target[n] = '\0';
      if (strcmp(target, t->path) == 0) unlink(t->link);
    }
  }
  if (t->master >= 0) close(t->master);
  if (t->slave >= 0) close(t->slave);
  t->master = -1;
  t->slave = -1;
}
