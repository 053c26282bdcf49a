/*
 * Loads libmicrotcp-packetdrill.so the way packetdrill does (dlopen +
 * packetdrill_interface_init), checks the member order, and drives a handshake,
 * data both ways, a blocking read released by an inbound packet, and the
 * virtual clock — all through the function pointers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "packetdrill_interface.h"

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* IPv4+TCP from 192.0.2.1:40000 to 192.168.0.2:8080. */
static size_t make_tcp(uint8_t *pkt, uint32_t seq, uint32_t ack, uint8_t flags, const char *data) {
  size_t dl = data ? strlen(data) : 0, tl = 20 + dl;
  memset(pkt, 0, 40);
  pkt[0] = 0x45;
  pkt[2] = (uint8_t)((20 + tl) >> 8);
  pkt[3] = (uint8_t)(20 + tl);
  pkt[6] = 0x40;
  pkt[8] = 64;
  pkt[9] = 6;
  uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {192, 168, 0, 2};
  memcpy(pkt + 12, src, 4);
  memcpy(pkt + 16, dst, 4);
  uint16_t c = csum(pkt, 20, 0);
  pkt[10] = (uint8_t)(c >> 8);
  pkt[11] = (uint8_t)c;
  uint8_t *t = pkt + 20;
  t[0] = 40000 >> 8;
  t[1] = 40000 & 0xff;
  t[2] = 8080 >> 8;
  t[3] = 8080 & 0xff;
  for (int i = 0; i < 4; i++) {
    t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
  }
  t[12] = 5 << 4;
  t[13] = flags;
  t[14] = 0xff;
  t[15] = 0xff;
  if (dl) memcpy(t + 20, data, dl);
  uint32_t ps = (192u << 8 | 0) + (2u << 8 | 1) + (192u << 8 | 168) + (0u << 8 | 2) + 6 + (uint32_t)tl;
  c = csum(t, tl, ps);
  t[16] = (uint8_t)(c >> 8);
  t[17] = (uint8_t)c;
  return 20 + tl;
}

struct out {
  uint32_t seq, ack;
  uint8_t flags;
  size_t len;
  char data[64];
};

static int receive(struct packetdrill_interface *ifc, struct out *o) {
  uint8_t buf[2000];
  size_t n = sizeof buf;
  long long t = 0;
  if (ifc->netdev_receive(ifc->userdata, buf, &n, &t) != 0 || n == 0) return 0;
  size_t ihl = (size_t)(buf[0] & 15) * 4;
  const uint8_t *tcp = buf + ihl;
  o->seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
  o->ack = (uint32_t)tcp[8] << 24 | (uint32_t)tcp[9] << 16 | (uint32_t)tcp[10] << 8 | tcp[11];
  o->flags = tcp[13];
  size_t hl = (size_t)(tcp[12] >> 4) * 4;
  o->len = n - ihl - hl;
  memset(o->data, 0, sizeof o->data);
  memcpy(o->data, tcp + hl, o->len < 63 ? o->len : 63);
  return 1;
}

struct reader {
  struct packetdrill_interface *ifc;
  int fd;
  ssize_t got;
  char buf[64];
};

static void *blocking_read(void *arg) {
  struct reader *r = arg;
  r->got = r->ifc->read(r->ifc->userdata, r->fd, r->buf, sizeof r->buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(so != NULL);
  if (!so) {
    fprintf(stderr, "%s\n", dlerror());
    return check_report();
  }
  packetdrill_interface_init_t init = (packetdrill_interface_init_t)dlsym(so, "packetdrill_interface_init");
  CHECK(init != NULL);
  struct packetdrill_interface ifc;
  init("ip=192.168.0.2", &ifc);

  /* member order: every slot holds the function of that name (ABI = order) */
  static const char *names[] = {"socket", "bind", "listen", "accept", "connect", "read", "readv",
                                "recv", "recvfrom", "recvmsg", "write", "writev", "send",
                                "sendto", "sendmsg", "fcntl", "ioctl", "close", "shutdown",
                                "getsockopt", "setsockopt", "poll", "netdev_send",
                                "netdev_receive", "usleep", "gettimeofday"};
  void **slots = (void **)&ifc;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char sym[64];
    snprintf(sym, sizeof sym, "microtcp_pd_%s", names[i]);
    void *f = dlsym(so, sym);
    CHECK(f != NULL);
    if (slots[2 + i] != f) fprintf(stderr, "member %zu (%s) is out of place\n", 2 + i, names[i]);
    CHECK(slots[2 + i] == f);
  }
  CHECK_EQ(offsetof(struct packetdrill_interface, netdev_send), 24 * sizeof(void *));
  CHECK_EQ(offsetof(struct packetdrill_interface, splice), 32 * sizeof(void *));
  CHECK(ifc.epoll_create == NULL && ifc.pipe == NULL && ifc.splice == NULL);

  void *ud = ifc.userdata;
  int lfd = ifc.socket(ud, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  CHECK(lfd >= 0);
  CHECK(fcntl(lfd, F_GETFD) >= 0); /* a real, open descriptor: packetdrill may close() it */
  /* options before listen/connect: the stored value, else the stack default */
  int nd = 1, got_nd = -1;
  socklen_t ndl = sizeof got_nd;
  CHECK_EQ(ifc.getsockopt(ud, lfd, IPPROTO_TCP, TCP_NODELAY, &got_nd, &ndl), 0);
  CHECK_EQ(got_nd, 0);
  CHECK_EQ(ifc.setsockopt(ud, lfd, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd), 0);
  CHECK_EQ(ifc.getsockopt(ud, lfd, IPPROTO_TCP, TCP_NODELAY, &got_nd, &ndl), 0);
  CHECK_EQ(got_nd, 1);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(8080);
  CHECK_EQ(ifc.bind(ud, lfd, (struct sockaddr *)&sin, sizeof sin), 0);
  CHECK_EQ(ifc.listen(ud, lfd, 4), 0);
  struct timeval tv0, tv1;
  ifc.gettimeofday(ud, &tv0, NULL);
  CHECK_EQ(ifc.usleep(ud, 250000), 0);
  ifc.gettimeofday(ud, &tv1, NULL);
  CHECK_EQ((tv1.tv_sec - tv0.tv_sec) * 1000000 + (tv1.tv_usec - tv0.tv_usec), 250000);

  uint8_t pkt[200];
  size_t n = make_tcp(pkt, 1000, 0, 0x02, NULL); /* SYN */
  CHECK_EQ(ifc.netdev_send(ud, pkt, n), 0);
  struct out o;
  CHECK(receive(&ifc, &o));
  CHECK_EQ(o.flags, 0x12); /* SYN-ACK */
  CHECK_EQ(o.ack, 1001);
  uint32_t isn = o.seq;
  n = make_tcp(pkt, 1001, isn + 1, 0x10, NULL);
  CHECK_EQ(ifc.netdev_send(ud, pkt, n), 0);
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  int cfd = ifc.accept(ud, lfd, (struct sockaddr *)&peer, &pl);
  CHECK(cfd >= 0 && cfd != lfd && fcntl(cfd, F_GETFD) >= 0);
  CHECK_EQ(ntohs(peer.sin_port), 40000);

  n = make_tcp(pkt, 1001, isn + 1, 0x18, "hello");
  CHECK_EQ(ifc.netdev_send(ud, pkt, n), 0);
  char buf[64] = {0};
  CHECK_EQ(ifc.recv(ud, cfd, buf, sizeof buf, MSG_PEEK), 5); /* MSG_PEEK leaves the bytes */
  CHECK(memcmp(buf, "hello", 5) == 0);
  memset(buf, 0, sizeof buf);
  CHECK_EQ(ifc.read(ud, cfd, buf, sizeof buf), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(ifc.write(ud, cfd, "world", 5), 5);
  int saw_data = 0;
  while (!saw_data && receive(&ifc, &o))
    if (o.len == 5 && memcmp(o.data, "world", 5) == 0 && o.ack == 1006) saw_data = 1;
  CHECK(saw_data);

  /* a blocking read waits on another thread until a packet arrives */
  struct reader r = {&ifc, cfd, -2, {0}};
  pthread_t th;
  pthread_create(&th, NULL, blocking_read, &r);
  ifc.usleep(ud, 1000);
  n = make_tcp(pkt, 1006, isn + 6, 0x18, "again");
  CHECK_EQ(ifc.netdev_send(ud, pkt, n), 0);
  pthread_join(th, NULL);
  CHECK_EQ(r.got, 5);
  CHECK(memcmp(r.buf, "again", 5) == 0);

  /* options and errors */
  int one = 1, v = 0;
  socklen_t vl = sizeof v;
  CHECK_EQ(ifc.setsockopt(ud, cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  CHECK_EQ(ifc.getsockopt(ud, cfd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
  CHECK_EQ(v, 1);
  CHECK_EQ(ifc.setsockopt(ud, cfd, IPPROTO_IP, IP_TOS, &one, sizeof one), -1);
  CHECK_EQ(ifc.read(ud, 99, buf, 1), -1);
  /* peer resets: the blocking read reports ECONNRESET */
  n = make_tcp(pkt, 1011, 0, 0x04, NULL);
  ifc.netdev_send(ud, pkt, n);
  CHECK_EQ(ifc.read(ud, cfd, buf, sizeof buf), -1);
  /* shutdown(SHUT_RD): later reads see end of stream (Linux), never block */
  CHECK_EQ(ifc.shutdown(ud, cfd, SHUT_RD), 0);
  CHECK_EQ(ifc.read(ud, cfd, buf, sizeof buf), 0);
  CHECK_EQ(ifc.close(ud, cfd), 0);
  CHECK(fcntl(cfd, F_GETFD) < 0); /* the shim closed the real descriptor too */
  CHECK_EQ(ifc.close(ud, lfd), 0);
  ifc.free(ud);
  dlclose(so);
  return check_report();
}
