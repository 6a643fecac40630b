#include "sd_notify.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int spikecap_sd_notify(const char *path, const char *msg, size_t len) {
  struct sockaddr_un addr;
  size_t plen = strlen(path);
  if (plen == 0 || plen >= sizeof(addr.sun_path)) return -EINVAL;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, plen);
  if (path[0] == '@') addr.sun_path[0] = '\0'; /* abstract namespace */
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t n = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&addr, alen);
  int err = n < 0 ? -errno : 0;
  close(fd);
  return err;
}
