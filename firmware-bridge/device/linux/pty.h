/*
 * The virtual board's serial port: a pseudo-terminal whose slave side a host opens like any
 * serial device, optionally behind a symlink at a fixed path.
 */
#ifndef SPIKECAP_VB_PTY_H
#define SPIKECAP_VB_PTY_H

struct vpty {
  int master;      /* non-blocking; -1 when closed */
  int slave;       /* our own fd on the slave side; -1 when closed */
  char path[256];  /* the slave's path, e.g. /dev/pts/3 */
  const char *link;/* the symlink to keep pointing at it, or NULL */
};

/* Opens a new pty, sets its slave raw and keeps it open, and points `link` (if any) at it.
 * Returns 0, or -1 after printing why to stderr. */
int vpty_open(struct vpty *t, const char *link);

/* Closes both sides and removes the symlink if it still points at this pty. Idempotent. */
void vpty_close(struct vpty *t);

#endif
