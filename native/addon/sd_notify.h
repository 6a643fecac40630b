/* sd_notify(3) without libsystemd: one datagram to the socket systemd names in NOTIFY_SOCKET. */
#ifndef SPIKECAP_SD_NOTIFY_H
#define SPIKECAP_SD_NOTIFY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sends `len` bytes of `msg` (e.g. "READY=1\nSTATUS=ok") to the unix datagram socket at
 * `path`; a path starting with '@' is in the abstract namespace. Returns 0, or a negative
 * errno: -EINVAL for a path that does not fit a sockaddr_un.
 */
int spikecap_sd_notify(const char *path, const char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif
