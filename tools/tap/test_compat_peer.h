/* test_compat.c's peer: a blocking-API client on its own thread (see
 * test_compat_peer.c). It connects to ip:port, sends "hello", waits
 * read_delay_ms, then reads `expect` bytes (checking they are 'a'..'z'
 * repeated) and closes. */
#ifndef MICROTCP_TEST_COMPAT_PEER_H
#define MICROTCP_TEST_COMPAT_PEER_H

#include <stddef.h>
#include <stdint.h>

struct peer_result {
  int connected, sent_hello;
  size_t received, corrupt;
};

struct peer;
struct peer *peer_start(int fd, const char *ip, uint16_t port, size_t expect, int read_delay_ms);
struct peer_result peer_finish(struct peer *p); /* joins and frees */

#endif
