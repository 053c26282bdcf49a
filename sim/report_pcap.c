/* A report from a capture (microtcp-replay --report, microtcp-report on a
 * microtcp-tap --pcap file): every frame, and one "link" per sending IPv4
 * address with its throughput. A capture shows no faults and no stack state:
 * cwnd/srtt are replaced by what the frames show (bytes in flight, RTT
 * samples), drawn by the same code as a simulated run. */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define MAX_SENDERS 256

int report_load_pcap(struct report *r, const char *path, char *err, size_t errlen) {
  char perr[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, perr);
  if (!p) {
    snprintf(err, errlen, "%s: %s", path, perr);
    return -1;
  }
  int dlt = pcap_datalink(p);
  if (dlt != DLT_EN10MB && dlt != DLT_RAW && dlt != DLT_IPV4) {
    snprintf(err, errlen, "%s: link type %s is not Ethernet or raw IPv4", path,
             pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
    pcap_close(p);
    return -1;
  }
  uint32_t senders[MAX_SENDERS];
  int links[MAX_SENDERS], nsenders = 0, other_link = -1;
  struct pcap_pkthdr *h;
  const u_char *data;
  uint64_t t0 = 0;
  bool first = true;
  static uint8_t buf[14 + 65536];
  int rc;
  size_t n = 0;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    uint64_t t = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    if (first) t0 = t, first = false;
    t = t >= t0 ? t - t0 : 0;
    const uint8_t *frame = data;
    size_t len = h->caplen;
    if (dlt != DLT_EN10MB) { /* give raw IPv4 an Ethernet header */
      if (len > sizeof buf - 14) len = sizeof buf - 14;
      memset(buf, 0, 12);
      buf[12] = 0x08, buf[13] = 0x00;
      memcpy(buf + 14, data, len);
      frame = buf;
      len += 14;
    }
    uint32_t id = report_frame(r, t, frame, len);
    n++;
    /* the sender: source IPv4 address, or "other" for ARP and the rest */
    int link = -1;
    if (len >= 34 && frame[12] == 0x08 && frame[13] == 0x00) {
      uint32_t ip = (uint32_t)frame[26] << 24 | (uint32_t)frame[27] << 16 | (uint32_t)frame[28] << 8 | frame[29];
      for (int i = 0; i < nsenders && link < 0; i++)
        if (senders[i] == ip) link = links[i];
      if (link < 0 && nsenders < MAX_SENDERS) {
        char name[64];
        snprintf(name, sizeof name, "sent by %u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
        senders[nsenders] = ip;
        link = links[nsenders++] = report_add_link(r, name, 0);
      }
    }
    if (link < 0) {
      if (other_link < 0) other_link = report_add_link(r, "other frames (ARP, non-IPv4, more senders)", 0);
      link = other_link;
    }
    report_hop(r, t, link, id, h->len, 0);
  }
  if (rc == -1) {
    snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
    pcap_close(p);
    return -1;
  }
  pcap_close(p);
  if (n == 0) {
    snprintf(err, errlen, "%s: no frames", path);
    return -1;
  }
  report_flows_from_connections(r);
  return 0;
}
