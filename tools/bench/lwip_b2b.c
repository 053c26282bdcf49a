/*
 * lwIP back to back: the reference for microtcp_b2b.c. Debian's liblwip
 * (liblwip-dev) is built with NO_SYS=0 and LWIP_TCPIP_CORE_LOCKING=1 (its
 * /usr/include/lwip/lwipopts.h), so the stack runs in its tcpip thread; this
 * harness does all its work from inside that thread, through the callback
 * API (tcpip_callback): a "pump" callback moves frames and data for a batch,
 * then posts itself again, so lwIP's own timers run between batches exactly
 * as they would in a real system. When a batch made no progress the pump
 * waits for the next millisecond tick (sys_timeout) instead of spinning.
 *
 * lwIP keeps one global stack, so the two ends are two netifs of it
 * (10.0.0.1 and 10.0.0.2, the same /24), each pcb bound to its netif
 * (tcp_bind_netif) so segments leave through the Ethernet path (ARP, a
 * frame handed over) rather than lwIP's loopback shortcut for local
 * addresses. A frame handed to one netif's linkoutput is copied once into a
 * receive pbuf (as a driver's DMA would) and queued for the other netif's
 * input. The receiver reads pbufs in place (lwIP's raw API hands them to the
 * application) and checks every byte (b2b.h).
 *
 * Equal terms (see microtcp_b2b.c): MSS 1460, send buffer and receive window
 * 65,535 bytes (lwIP's TCP_SND_BUF and TCP_WND as built), Nagle off on the
 * sender, no timestamps or SACK (not built into this lwIP).
 *
 *   lwip-b2b [BYTES]      e.g. lwip-b2b 64M
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include "b2b.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define FIFO_LEN 4096u /* frames in flight between the netifs; more than two windows' worth */

static struct {
  struct netif nif[2]; /* 0: sender 10.0.0.1, 1: receiver 10.0.0.2 */
  struct {
    struct pbuf *p;
    struct netif *to;
  } fifo[FIFO_LEN];
  unsigned head, tail;
  uint64_t fifo_drops, alloc_fail;
  struct tcp_pcb *client, *server;
  uint64_t bytes, sent;
  int connected, shut, failed, finished;
  struct b2b_result r;
  _Atomic uint64_t progress; /* bytes received, read by the main thread's watchdog */
  sem_t done;
} g;

static void finish(void) {
  if (!g.finished) {
    g.finished = 1;
    sem_post(&g.done);
  }
}

/* linkoutput: copy the frame into a fresh receive pbuf for the other netif. */
static err_t link_out(struct netif *nif, struct pbuf *p) {
  int from = nif == &g.nif[0] ? 0 : 1;
  if (g.tail - g.head == FIFO_LEN) {
    g.fifo_drops++;
    return ERR_OK; /* a full link drops, as a wire would */
  }
  /* PBUF_RAM: one contiguous buffer. (PBUF_POOL chains in this build overrun
   * their blocks: pool pbufs come from malloc, MEMP_MEM_MALLOC, sized
   * differently from what pbuf_alloc assumes; valgrind shows it.) */
  struct pbuf *q = pbuf_alloc(PBUF_RAW, p->tot_len, PBUF_RAM);
  if (!q) {
    g.alloc_fail++;
    return ERR_MEM;
  }
  pbuf_copy(q, p);
  g.fifo[g.tail % FIFO_LEN].p = q;
  g.fifo[g.tail % FIFO_LEN].to = &g.nif[1 - from];
  g.tail++;
  if (from == 0) g.r.frames_ab++;
  else g.r.frames_ba++;
  return ERR_OK;
}

static err_t nif_init(struct netif *nif) {
  int which = nif == &g.nif[0] ? 0 : 1;
  nif->name[0] = 'b';
  nif->name[1] = (char)('0' + which);
  nif->mtu = 1500;
  nif->hwaddr_len = 6;
  static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x10};
  memcpy(nif->hwaddr, mac, 6);
  nif->hwaddr[5] = (uint8_t)(0x10 + which);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  nif->output = etharp_output;
  nif->linkoutput = link_out;
  return ERR_OK;
}

static void fail(const char *what, int err) {
  fprintf(stderr, "lwip-b2b: %s (lwIP error %d)\n", what, err);
  g.failed = 1;
  finish();
}

static void on_err(void *arg, err_t err) {
  (void)arg;
  fail("connection error", err);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  (void)arg;
  if (err != ERR_OK) {
    if (p) pbuf_free(p);
    fail("receive error", err);
    return ERR_OK;
  }
  if (!p) { /* FIN: the end of the stream */
    g.r.eof = 1;
    tcp_close(pcb);
    g.server = NULL;
    finish();
    return ERR_OK;
  }
  for (struct pbuf *q = p; q; q = q->next) {
    b2b_maybe_corrupt(g.r.received, q->payload, q->len);
    if (g.r.integrity_ok && b2b_check(g.r.received, q->payload, q->len) != 0) {
      fprintf(stderr, "lwip-b2b: data mismatch in the %u bytes at offset %llu\n", q->len,
              (unsigned long long)g.r.received);
      g.r.integrity_ok = 0;
    }
    g.r.received += q->len;
  }
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  atomic_store(&g.progress, g.r.received);
  return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg;
  (void)pcb;
  if (err != ERR_OK) fail("connect", err);
  g.connected = 1; /* write only now: before the SYN-ACK lwIP would cut 536-byte segments */
  return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  (void)arg;
  if (err != ERR_OK || !pcb) {
    fail("accept", err);
    return ERR_VAL;
  }
  g.server = pcb;
  tcp_recv(pcb, on_recv);
  tcp_err(pcb, on_err);
  return ERR_OK;
}

/* Hand the sender as much of the stream as its send buffer takes. */
static int fill(void) {
  int any = 0;
  while (g.connected && g.sent < g.bytes) {
    size_t n;
    const uint8_t *src = b2b_src(g.sent, g.bytes - g.sent, &n);
    size_t room = tcp_sndbuf(g.client);
    if (n > room) n = room;
    if (n == 0) break;
    err_t e = tcp_write(g.client, src, (u16_t)n, TCP_WRITE_FLAG_COPY);
    if (e == ERR_MEM) break; /* segment queue full: wait for ACKs */
    if (e != ERR_OK) {
      fail("tcp_write", e);
      return 0;
    }
    g.sent += n;
    any = 1;
  }
  if (g.connected && g.sent == g.bytes && !g.shut) {
    tcp_shutdown(g.client, 0, 1); /* FIN after the queued data */
    g.shut = 1;
  }
  if (any || g.shut) tcp_output(g.client);
  return any;
}

static void pump(void *arg);
static void pump_later(void *arg) { pump(arg); }

/* Runs in the tcpip thread: a batch of work, then post itself again. */
static void pump(void *arg) {
  (void)arg;
  int progress = 0;
  for (int round = 0; round < 64 && !g.finished; round++) {
    int moved = fill();
    while (g.head != g.tail && !g.finished) {
      struct pbuf *p = g.fifo[g.head % FIFO_LEN].p;
      struct netif *to = g.fifo[g.head % FIFO_LEN].to;
      g.head++;
      if (to->input(p, to) != ERR_OK) pbuf_free(p);
      moved = 1;
    }
    if (!moved) break;
    progress = 1;
  }
  if (g.finished) return;
  if (progress) {
    if (tcpip_try_callback(pump, NULL) != ERR_OK) sys_timeout(1, pump_later, NULL);
  } else {
    sys_timeout(1, pump_later, NULL);
  }
}

static void setup(void *arg) { /* tcpip_init's done callback: in the tcpip thread */
  (void)arg;
  ip4_addr_t ip[2], mask, gw;
  IP4_ADDR(&ip[0], 10, 0, 0, 1);
  IP4_ADDR(&ip[1], 10, 0, 0, 2);
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 0, 0, 0, 0);
  for (int i = 0; i < 2; i++) {
    if (!netif_add(&g.nif[i], &ip[i], &mask, &gw, NULL, nif_init, ethernet_input)) {
      fail("netif_add", 0);
      return;
    }
    netif_set_up(&g.nif[i]);
    netif_set_link_up(&g.nif[i]);
  }
  struct tcp_pcb *l = tcp_new();
  if (!l) {
    fail("tcp_new", ERR_MEM);
    return;
  }
  tcp_bind_netif(l, &g.nif[1]);
  err_t e = tcp_bind(l, IP_ADDR_ANY, 5001);
  if (e != ERR_OK) {
    fail("tcp_bind", e);
    return;
  }
  l = tcp_listen(l);
  if (!l) {
    fail("tcp_listen", ERR_MEM);
    return;
  }
  tcp_accept(l, on_accept);
  g.client = tcp_new();
  if (!g.client) {
    fail("tcp_new", ERR_MEM);
    return;
  }
  tcp_bind_netif(g.client, &g.nif[0]);
  tcp_nagle_disable(g.client);
  tcp_err(g.client, on_err);
  ip_addr_t dst;
  ip_addr_copy_from_ip4(dst, ip[1]);
  e = tcp_connect(g.client, &dst, 5001, on_connected);
  if (e != ERR_OK) {
    fail("tcp_connect", e);
    return;
  }
  pump(NULL);
}

int main(int argc, char **argv) {
  g.bytes = b2b_bytes(argc, argv, "lwip-b2b");
  b2b_pattern_init();
  g.r.stack = "lwip";
  g.r.bytes = g.bytes;
  g.r.integrity_ok = 1;
  sem_init(&g.done, 0, 0);
  double cpu0 = b2b_cpu_s(), wall0 = b2b_wall_s();
  tcpip_init(setup, NULL);
  /* Watchdog: fail when nothing arrives for 30 s. */
  uint64_t last = 0;
  int idle_s = 0;
  for (;;) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    if (sem_timedwait(&g.done, &ts) == 0) break;
    if (errno != ETIMEDOUT && errno != EINTR) return 1;
    uint64_t now = atomic_load(&g.progress);
    idle_s = now == last ? idle_s + 1 : 0;
    last = now;
    if (idle_s >= 30) {
      fprintf(stderr, "lwip-b2b: no progress for 30 s (%llu of %llu bytes received)\n",
              (unsigned long long)now, (unsigned long long)g.bytes);
      return 1;
    }
  }
  /* The stack thread has finished the transfer and is idle (it only wakes for
   * timers); read the figures while holding its core lock. */
  LOCK_TCPIP_CORE();
  g.r.cpu_s = b2b_cpu_s() - cpu0;
  g.r.wall_s = b2b_wall_s() - wall0;
  struct b2b_result r = g.r;
  uint64_t drops = g.fifo_drops, afail = g.alloc_fail;
  UNLOCK_TCPIP_CORE();
  if (drops || afail)
    fprintf(stderr, "lwip-b2b: %llu frames dropped on a full link, %llu receive pbufs not allocated\n",
            (unsigned long long)drops, (unsigned long long)afail);
  if (g.failed) r.integrity_ok = 0;
  return b2b_report(&r);
}
