/*
 * TAP device setup (see tap.h). The kernel interface: open /dev/net/tun and
 * TUNSETIFF (Documentation/networking/tuntap.rst); the address and link flags
 * go through the classic SIOCSIF* ioctls on an AF_INET datagram socket, which
 * needs the same privilege (CAP_NET_ADMIN) as creating the device.
 */
#define _GNU_SOURCE
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Why an open/ioctl failed, in words a user can act on. */
static const char *hint(int e) {
  switch (e) {
  case ENOENT:
  case ENODEV: return " (is the tun module loaded? modprobe tun)";
  case EPERM:
  case EACCES: return " (needs root or CAP_NET_ADMIN)";
  case EBUSY: return " (interface name in use by another process)";
  default: return "";
  }
}

int tap_open(const char *ifname, int vnet_hdr, char name_out[16], char *err, size_t errlen) {
  if (!ifname || strlen(ifname) >= IFNAMSIZ) {
    snprintf(err, errlen, "interface name must be 1..%d characters", IFNAMSIZ - 1);
    errno = EINVAL;
    return -1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot open /dev/net/tun: %s%s", strerror(e), hint(e));
    errno = e;
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI; /* raw Ethernet frames, no packet-info prefix */
  if (vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    /* TUNSETIFF answers EBUSY when another fd holds the device, and EINVAL
     * when the name belongs to an interface that is not a TAP device. */
    snprintf(err, errlen, "cannot create TAP device %s: %s%s", ifname, strerror(e),
             e == EINVAL ? " (name taken by a non-TAP interface?)" : hint(e));
    close(fd);
    errno = e;
    return -1;
  }
  /* Offloads belong to the device, not to the fd: a persistent device that
   * an IFF_VNET_HDR user (microtcp-tap --gso) left with TUN_F_CSUM/TSO4 keeps
   * them, and Linux would go on handing it frames with partial checksums and
   * 64 KiB TSO frames, which a reader without the header cannot tell apart
   * from corrupt ones (the stack dropped every SYN-ACK: drop_tcp_checksum).
   * Without the header no offload can be used, so clear them all. */
  if (!vnet_hdr && ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot clear the offloads of %s (TUNSETOFFLOAD): %s", ifr.ifr_name,
             strerror(e));
    close(fd);
    errno = e;
    return -1;
  }
  if (name_out) memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
  return fd;
}

static int sioc(int s, unsigned long req, struct ifreq *ifr, const char *what, char *err,
                size_t errlen) {
  if (ioctl(s, req, ifr) == 0) return 0;
  int e = errno;
  snprintf(err, errlen, "cannot set %s of %s: %s%s", what, ifr->ifr_name, strerror(e), hint(e));
  errno = e;
  return -1;
}

static void set_in(struct sockaddr *sa, uint32_t ip) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(ip);
  memcpy(sa, &sin, sizeof sin);
}

int tap_configure(const char *name, uint32_t ip, unsigned prefix, const uint8_t *mac, char *err,
                  size_t errlen) {
  if (prefix > 32) {
    snprintf(err, errlen, "prefix length %u > 32", prefix);
    errno = EINVAL;
    return -1;
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  int rc = 0;
  if (mac) { /* the MAC can only change while the link is down, i.e. first */
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    rc = sioc(s, SIOCSIFHWADDR, &ifr, "MAC address", err, errlen);
  }
  if (rc == 0) {
    set_in(&ifr.ifr_addr, ip);
    rc = sioc(s, SIOCSIFADDR, &ifr, "address", err, errlen);
  }
  if (rc == 0) {
    set_in(&ifr.ifr_netmask, prefix ? 0xffffffffu << (32 - prefix) : 0);
    rc = sioc(s, SIOCSIFNETMASK, &ifr, "netmask", err, errlen);
  }
  if (rc == 0) rc = sioc(s, SIOCGIFFLAGS, &ifr, "flags", err, errlen);
  if (rc == 0) {
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    rc = sioc(s, SIOCSIFFLAGS, &ifr, "flags", err, errlen);
  }
  int e = errno;
  close(s);
  errno = e;
  return rc;
}

int tap_parse_ipv4(const char *s, uint32_t *ip, unsigned *prefix, unsigned default_prefix) {
  unsigned a, b, c, d, n = default_prefix;
  char tail;
  if (!s) return -1;
  int k = sscanf(s, "%3u.%3u.%3u.%3u/%2u%c", &a, &b, &c, &d, &n, &tail);
  if (k == 4) {
    /* no prefix: make sure nothing but the address was given */
    if (sscanf(s, "%*u.%*u.%*u.%*u%c", &tail) == 1) return -1;
  } else if (k != 5) {
    return -1;
  }
  if (a > 255 || b > 255 || c > 255 || d > 255 || n > 32) return -1;
  *ip = a << 24 | b << 16 | c << 8 | d;
  if (prefix) *prefix = n;
  return 0;
}

int tap_parse_mac(const char *s, uint8_t mac[6]) {
  unsigned m[6];
  char tail;
  if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
                   &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)m[i];
  return 0;
}

int tap_supports_vnet_hdr(void) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned int features = 0;
  int ok = ioctl(fd, TUNGETFEATURES, &features) == 0 && (features & IFF_VNET_HDR);
  close(fd);
  return ok;
}
