/* A sequence of IPv4 fragments (records: [id:1][offset/8:2][mf:1][len:1][bytes])
 * into a stack; reassembly must stay within its caps, never crash, and free
 * everything after its timeout. Checksums are made valid by the harness. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz f;
  fz_init(&f);
  int u = microtcp_udp_bind(f.st, 0, 9);
  size_t i = 0;
  uint8_t frame[1600];
  while (i + 5 <= size) {
    uint8_t id = data[i];
    uint16_t off8 = (uint16_t)(wire_get16(data + i + 1) & 0x1fff);
    int mf = data[i + 3] & 1;
    uint8_t proto = (data[i + 3] & 2) ? WIRE_IP_PROTO_UDP : WIRE_IP_PROTO_ICMP;
    size_t len = data[i + 4] * 8u;
    i += 5;
    if (len > size - i) len = size - i;
    if (len > 1400) len = 1400;
    size_t n = fz_frame(frame, sizeof frame, proto, data + i, len, id, (uint16_t)(off8 * 8), mf, 0);
    i += len;
    if (n) microtcp_input(f.st, f.now, frame, n);
    f.now += 1000;
    microtcp_advance(f.st, f.now);
    fz_check_bounds(&f);
    fz_drain(&f, NULL, NULL);
  }
  microtcp_udp_close(f.st, u);
  fz_run_out(&f, 60000000ull);
  microtcp_pool_usage pu;
  microtcp_get_pool_usage(f.st, &pu);
  if (pu.reasm_slots || pu.reasm_bytes || pu.frames) fz_die("reassembly memory not released");
  fz_free(&f);
  return 0;
}
