/*
 * Linux TAP device: open or attach one, and configure the Linux side.
 * Shared by microtcp-tap and the blocking API. Linux only.
 *
 * Errors: every function returns 0 (or an fd) on success, -1 on failure with a
 * one-line explanation in err (caller's buffer) and errno left as the kernel
 * set it: ENOENT (no /dev/net/tun), EACCES/EPERM (not root / no
 * CAP_NET_ADMIN), EBUSY (the name is in use by another process), EINVAL (bad
 * argument).
 */
#ifndef MICROTCP_TAP_H
#define MICROTCP_TAP_H

#include <stddef.h>
#include <stdint.h>

/* Create (or attach to an existing persistent) TAP device with IFF_TAP |
 * IFF_NO_PI, plus IFF_VNET_HDR if vnet_hdr is non-zero (every read and write
 * then starts with a 10-byte struct virtio_net_hdr; no offloads are enabled
 * for frames Linux sends, so those stay MTU-sized with full checksums).
 * Without vnet_hdr the device's offloads are cleared (TUNSETOFFLOAD 0): an
 * earlier IFF_VNET_HDR user of a persistent device may have left them on.
 * ifname may contain "%d" (the kernel picks the number); the final name is
 * written back to name_out (IFNAMSIZ bytes). The fd is non-blocking and
 * close-on-exec; closing it removes a non-persistent device. */
int tap_open(const char *ifname, int vnet_hdr, char name_out[16], char *err, size_t errlen);

/* 1 if this kernel's TAP driver offers IFF_VNET_HDR (TUNGETFEATURES), else
 * 0 (also when /dev/net/tun cannot be opened: tap_open then says why). */
int tap_supports_vnet_hdr(void);

/* Give the Linux side of the device an IPv4 address ip/prefix (host order),
 * optionally a MAC (NULL: keep the kernel's), and bring it up. Uses ioctls
 * (SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFHWADDR, SIOCSIFFLAGS): no `ip` binary
 * needed. */
int tap_configure(const char *name, uint32_t ip, unsigned prefix, const uint8_t *mac, char *err,
                  size_t errlen);

/* Parsers shared by the CLI and the blocking API: "A.B.C.D" or "A.B.C.D/N"
 * (prefix stays default_prefix if absent), and "xx:xx:xx:xx:xx:xx". */
int tap_parse_ipv4(const char *s, uint32_t *ip, unsigned *prefix, unsigned default_prefix);
int tap_parse_mac(const char *s, uint8_t mac[6]);

#endif
