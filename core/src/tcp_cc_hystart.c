/*
 * HyStart++ (RFC 9406): leave the initial slow start when the RTT rises
 * (queues start to build), through a few rounds of Conservative Slow Start
 * (CSS) that can resume slow start if the rise was spurious. Used by NewReno
 * and CUBIC alike: it only decides when slow start ends and how fast CSS
 * grows (mtcp_tcp_cc_slow_start); the algorithms are unchanged otherwise.
 *
 * Rounds (4.2): a round ends when SND.UNA reaches windowEnd, the SND.NXT of
 * the round's start. Not paced, so L is infinite in the RFC; our slow start
 * keeps its own per-ACK limit (abc_limit) and CSS divides that growth.
 */
#include "tcp_cc.h"

#include "tcp_buf.h" /* seq_gt */

#define RTT_INF 0xffffffffu

void mtcp_tcp_hystart_start(struct tcp_cc *cc, uint32_t snd_nxt) {
  cc->hs.state = HYSTART_SS;
  cc->hs.css_rounds = 0;
  cc->hs.rtt_samples = 0;
  cc->hs.window_end = snd_nxt;
  cc->hs.last_round_min_rtt = RTT_INF;
  cc->hs.cur_round_min_rtt = RTT_INF;
  cc->hs.css_baseline_min_rtt = RTT_INF;
}

int mtcp_tcp_hystart_on_ack(struct tcp_cc *cc, uint32_t ack, uint32_t snd_nxt, uint32_t rtt_us) {
  struct tcp_hystart *h = &cc->hs;
  if (h->state != HYSTART_SS && h->state != HYSTART_CSS) return 0;
  /* 4.3: HyStart++ is for the initial slow start only; a loss or an RTO
   * (ssthresh no longer "arbitrarily high") ends it for good (4.2: loss in
   * slow start or CSS exits to congestion avoidance the usual way). */
  if (cc->ssthresh != TCP_CC_INFINITE) {
    h->state = HYSTART_DONE;
    return 0;
  }
  int ret = 0;
  if (seq_gt(ack, h->window_end)) {
    /* 4.2: a new round: lastRoundMinRTT = currentRoundMinRTT, reset the
     * current round; in CSS count the round, CSS_ROUNDS of them end it. */
    if (h->state == HYSTART_CSS && ++h->css_rounds >= HYSTART_CSS_ROUNDS) {
      cc->ssthresh = cc->cwnd; /* enter congestion avoidance */
      h->state = HYSTART_DONE;
      return 2;
    }
    h->last_round_min_rtt = h->cur_round_min_rtt;
    h->cur_round_min_rtt = RTT_INF;
    h->rtt_samples = 0;
    h->window_end = snd_nxt;
  }
  if (rtt_us) {
    if (rtt_us < h->cur_round_min_rtt) h->cur_round_min_rtt = rtt_us;
    if (h->rtt_samples < 0xffff) h->rtt_samples++;
  }
  if (h->rtt_samples < HYSTART_N_RTT_SAMPLE || h->cur_round_min_rtt == RTT_INF) return ret;
  if (h->state == HYSTART_SS) {
    if (h->last_round_min_rtt == RTT_INF) return ret;
    /* RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)) */
    uint32_t thresh = h->last_round_min_rtt / HYSTART_MIN_RTT_DIVISOR;
    if (thresh > HYSTART_MAX_RTT_THRESH_US) thresh = HYSTART_MAX_RTT_THRESH_US;
    if (thresh < HYSTART_MIN_RTT_THRESH_US) thresh = HYSTART_MIN_RTT_THRESH_US;
    if ((uint64_t)h->cur_round_min_rtt >= (uint64_t)h->last_round_min_rtt + thresh) {
      h->css_baseline_min_rtt = h->cur_round_min_rtt;
      h->state = HYSTART_CSS;
      h->css_rounds = 0;
      ret = 1;
    }
  } else if (h->cur_round_min_rtt < h->css_baseline_min_rtt) {
    /* 4.2: the RTT fell below the baseline: the exit was spurious, resume
     * slow start. */
    h->css_baseline_min_rtt = RTT_INF;
    h->state = HYSTART_SS;
  }
  return ret;
}
