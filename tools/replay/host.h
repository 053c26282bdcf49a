/*
 * The replayed host: which host of a capture the stack plays, and a stack
 * config that looks like it.
 *
 * Auto-detection (when neither --as nor the sidecar's `as` names it): the host
 * that accepted a connection, i.e. the destination of the first TCP SYN
 * without ACK; else the destination of the first IPv4 packet; else the target
 * of the first ARP request.
 *
 * Direction of a frame relative to the host H:
 *   from H:  IPv4 source == H, ARP sender == H with H's MAC, otherwise
 *            Ethernet source == H's MAC;
 *   to H:    IPv4 destination == H, ARP target == H, an ARP claiming H's IP
 *            from another MAC (a conflict), otherwise Ethernet destination ==
 *            H's MAC or broadcast (other ethertypes, malformed and runt frames);
 *   other:   everything else (not injected in check/outcome mode).
 *
 * Config: microtcp-tap's PC-sized pools and timers (so captures recorded with
 * microtcp-tap replay identically) with the secret derived from the seed as
 * microtcp-tap --seed does; IP = H, MAC = H's (source of the first IPv4 frame
 * from H, else destination of the first unicast IPv4 frame to H, else the
 * sender of the first ARP from H's IP, else 02:00:00:00:00:02);
 * MSS and window scale from H's first SYN or SYN-ACK that has them, SACK and
 * timestamps on if any of H's SYNs or SYN-ACKs carries them;
 * gratuitous ARP on iff the capture holds one from H; then the sidecar's
 * [config] overrides.
 */
#ifndef REPLAY_HOST_H
#define REPLAY_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "microtcp/microtcp.h"
#include "pkt.h"
#include "sidecar.h"

enum dir { DIR_OTHER = 0, DIR_TO_HOST, DIR_FROM_HOST };

#define HOST_MAX_PEERS 1024

struct host {
  uint32_t ip;
  bool detected; /* found by auto-detection (not given) */
  uint8_t mac[6];
  bool mac_from_host; /* seen as the source of a frame from H */
  bool mac_known;
  int prefix;
  bool syn_seen; /* H sent a SYN or SYN-ACK */
  wire_tcp_opts syn_opts;
  bool garp;         /* H announced itself (gratuitous ARP) */
  bool arp_requests; /* H sent ARP requests */
  /* MAC candidates, best first: source of IPv4 from H, destination of
   * unicast IPv4 to H, sender of ARP from H (host_finish picks one). */
  bool mac_ip_src_k, mac_ip_dst_k;
  uint8_t mac_ip_src[6], mac_ip_dst[6];
  size_t narp;
  struct {
    uint8_t sha[6];
    bool garp, requests;
  } arp[8];            /* ARP senders claiming H's IP */
  bool first_syn_port; /* the first SYN to H: its destination port */
  uint16_t listen_port;
  bool h_sends_syn; /* H opened a connection (client role) */
  uint32_t connect_ip;
  uint16_t connect_port;
  bool outside_24; /* some peer is outside H's /24 */
  size_t npeers;
  struct {
    uint32_t ip;
    uint8_t mac[6];
  } peers[HOST_MAX_PEERS];
};

/* Pass 1: pick the host (call host_pick_candidate on every frame until it
 * returns true, then host_pick_done). */
struct host_pick {
  bool have_syn, have_ip, have_arp;
  uint32_t syn_dst, ip_dst, arp_tpa;
};
bool host_pick_candidate(struct host_pick *hp, const struct pkt *p);
bool host_pick_done(const struct host_pick *hp, uint32_t *ip);

/* Pass 2: learn about H from every frame, then host_finish. */
void host_init(struct host *h, uint32_t ip);
void host_learn(struct host *h, const struct pkt *p);
void host_finish(struct host *h);
enum dir host_dir(const struct host *h, const struct pkt *p);

/* Both passes over a capture in memory: H is sc's `as` or auto-detected
 * (*detected). 0, or -1 if no frame names a host. */
struct capture_mem;
int host_from_capture(struct host *h, const struct capture_mem *cap, const struct sidecar *sc,
                      bool *detected);

/* The stack config for H (see the top comment). */
void host_config(const struct host *h, const struct sidecar *sc, microtcp_config *cfg);

#endif
