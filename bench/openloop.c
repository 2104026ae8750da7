/*
 * Fixed-rate (open-loop) HTTP/1.1 GET load generator for the p99-added benchmarks
 * (bench/p99.ts, and the suite's fixed-rate rows through bench/load.ts, which
 * builds it with `cc` into dist/bench/openloop).
 *
 * Why C: bench/open-loop.ts pauses for its own JIT tier-ups and garbage
 * collections (event-loop gaps of 4-14 ms on this VM, measured), and at ~5,000
 * rps those pauses alone put the p99 of a *direct* request at 2-10 ms, far above
 * the 0.5 ms budget it is meant to resolve. This generator allocates nothing
 * while it runs and has no collector: direct p99 0.09-0.3 ms here.
 *
 * Request k is due at t0 + k/rate. It goes out on a free keep-alive connection
 * as soon as the generator sees it due, and its latency counts from then (the
 * generator's own wake-up lateness is not the server's). If every connection is
 * busy it waits in a FIFO and still counts from when it was seen due, so a
 * stalled server is charged for every request it delays (no coordinated
 * omission). Between due times the generator sleeps in epoll_pwait2 (ns
 * timeout), so it can share a core with the upstream; OPENLOOP_SPIN=1 busy-polls
 * instead. Responses are framed by Content-Length (the bench servers always send
 * one; anything else is an error and ends the run). The first WARMUP_S seconds
 * are sent but not recorded.
 *
 * Usage: openloop HOST PORT PATH RATE CONNECTIONS DURATION_S WARMUP_S [HEADER...]
 *   HEADER is a whole line, e.g. "authorization: Bearer x".
 * Prints one JSON object, the shape bench/open-loop.ts returns.
 * Real-time priority: the generator asks for SCHED_FIFO (priority 10; needs root or
 * CAP_SYS_NICE, else it runs as before; "realtime" in the output says which), so
 * the helpers that share its core (Redis, the bench's drainer completing metered
 * batches, the bench driver's own GC) cannot hold it off the CPU. Without it a
 * metered sidecar was charged for the drainer: perf sched showed the generator
 * asleep 9.2 ms past its due time while the drainer's threads ran on core 0, and
 * every response that arrived meanwhile counted as slow. OPENLOOP_RT=0 turns it off.
 * OPENLOOP_SLOW=FILE writes "<epoch ms sent> <latency ms>" for every recorded
 * request slower than 0.5 ms: periodic stalls show up as evenly spaced clusters.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

typedef struct {
  int fd;
  int busy;
  double start; /* ms: when the request was due (or seen due) */
  size_t have;  /* bytes of the current response buffered */
  char buf[BUF];
} conn_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *what) {
  fprintf(stderr, "openloop: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Length of a complete response at the start of c->buf, 0 if incomplete, -1 if unframeable. */
static long framed(conn_t *c, int *status) {
  c->buf[c->have] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return c->have >= BUF - 1 ? -1 : 0;
  *status = atoi(c->buf + 9);
  long len = -1;
  for (char *p = strstr(c->buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, "content-length:", 15) == 0) len = atol(p + 17);
  }
  if (len < 0) return -1;
  long total = (end + 4 - c->buf) + len;
  if (total >= BUF) return -1;
  return (long)c->have >= total ? total : 0;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: openloop HOST PORT PATH RATE CONNECTIONS DURATION_S WARMUP_S [HEADER...]\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  const char *path = argv[3];
  double rate = atof(argv[4]);
  int nconn = atoi(argv[5]);
  double duration = atof(argv[6]), warmup = atof(argv[7]);
  if (rate <= 0 || nconn <= 0 || duration <= 0 || warmup < 0) {
    fprintf(stderr, "openloop: RATE, CONNECTIONS and DURATION_S must be positive\n");
    return 2;
  }
  char req[16384];
  int rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nhost: %s:%d\r\n", path, host, port);
  for (int i = 8; i < argc; i++) rl += snprintf(req + rl, sizeof req - rl, "%s\r\n", argv[i]);
  rl += snprintf(req + rl, sizeof req - rl, "\r\n");
  if (rl >= (int)sizeof req) {
    fprintf(stderr, "openloop: request head too long\n");
    return 2;
  }

  conn_t *conns = calloc(nconn, sizeof(conn_t));
  int *freelist = malloc(nconn * sizeof(int));
  int nfree = 0;
  int ep = epoll_create1(0);
  if (!conns || !freelist || ep < 0) die("setup");
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "openloop: HOST must be an IPv4 address\n");
    return 2;
  }
  for (int i = 0; i < nconn; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    freelist[nfree++] = i;
  }

  double interval = 1000.0 / rate;
  size_t cap = (size_t)(rate * (duration + warmup) * 1.05) + 16;
  double *lat = malloc(cap * sizeof(double));
  double *due = malloc(cap * sizeof(double)); /* FIFO of waiting due times */
  if (!lat || !due) die("malloc");
  size_t qhead = 0, qtail = 0, nlat = 0;
  long long sent = 0, done = 0, non2xx = 0, errors = 0;
  struct timespec rt; clock_gettime(CLOCK_REALTIME, &rt);
  double epoch0 = rt.tv_sec * 1e3 + rt.tv_nsec / 1e6;
  double t0 = now_ms(), warmEnd = t0 + warmup * 1e3, end = warmEnd + duration * 1e3;
  long long k = 0;
  struct epoll_event evs[256];
  const char *spinEnv = getenv("OPENLOOP_SPIN");
  int spin = spinEnv && strcmp(spinEnv, "1") == 0;
  prctl(PR_SET_TIMERSLACK, 1UL);
  int realtime = 0;
  const char *rtEnv = getenv("OPENLOOP_RT");
  if (!(rtEnv && strcmp(rtEnv, "0") == 0)) {
    struct sched_param sp = {.sched_priority = 10};
    realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  }
  FILE *slow = getenv("OPENLOOP_SLOW") ? fopen(getenv("OPENLOOP_SLOW"), "w") : NULL;

#define SEND(ci, at)                                                      \
  do {                                                                    \
    conn_t *c_ = &conns[ci];                                              \
    c_->busy = 1;                                                         \
    c_->start = (at);                                                     \
    c_->have = 0;                                                         \
    if (write(c_->fd, req, rl) != rl) die("write (short or failed)");     \
    sent++;                                                               \
  } while (0)

  for (;;) {
    double now = now_ms();
    double until = now < end ? now : end;
    while (t0 + k * interval <= until && (size_t)k < cap) {
      k++;
      /* Seen due now: the generator's own lateness is not the server's. */
      if (nfree > 0) SEND(freelist[--nfree], now);
      else due[qtail++] = now;
    }
    if (now >= end && qhead == qtail && nfree == nconn) break;
    if (now >= end + 2000) break; /* bounded drain */
    int n;
    if (spin) n = epoll_wait(ep, evs, 256, 0);
    else {
      /* Sleep until the next request is due or a response arrives. */
      double wait = t0 + k * interval - now_ms();
      if (wait < 0) wait = 0;
      struct timespec ts = {.tv_sec = (time_t)(wait / 1e3), .tv_nsec = (long)((wait - (double)(time_t)(wait / 1e3) * 1e3) * 1e6)};
      n = epoll_pwait2(ep, evs, 256, &ts, NULL);
    }
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      int ci = (int)evs[e].data.u32;
      conn_t *c = &conns[ci];
      ssize_t r = read(c->fd, c->buf + c->have, BUF - 1 - c->have);
      if (r <= 0 && !c->busy) {
        /* An idle keep-alive connection closed by the server (uWS closes after 10 s idle;
           the free list is LIFO, so at a low rate most connections idle): open it again. */
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("reconnect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->have = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)ci};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
        continue;
      }
      if (r <= 0) {
        fprintf(stderr, "openloop: connection closed by the server\n");
        errors++;
        goto out;
      }
      c->have += (size_t)r;
      int status = 0;
      long len = framed(c, &status);
      if (len < 0) {
        fprintf(stderr, "openloop: response without Content-Length or too large\n");
        errors++;
        goto out;
      }
      if (len == 0 || !c->busy) continue;
      if ((size_t)len != c->have) {
        fprintf(stderr, "openloop: bytes after a response (pipelining is not used)\n");
        errors++;
        goto out;
      }
      double t = now_ms();
      done++;
      if (c->start >= warmEnd) {
        lat[nlat++] = t - c->start;
        if (slow && t - c->start > 0.5) fprintf(slow, "%.1f %.3f\n", c->start - t0 + epoch0, t - c->start);
        if (status < 200 || status > 299) non2xx++;
      }
      c->busy = 0;
      if (qhead < qtail) SEND(ci, due[qhead++]);
      else freelist[nfree++] = ci;
    }
  }
out:
  qsort(lat, nlat, sizeof(double), cmp);
#define Q(p) (nlat ? lat[(size_t)((p) * nlat) < nlat ? (size_t)((p) * nlat) : nlat - 1] : 0)
  double sum = 0;
  for (size_t i = 0; i < nlat; i++) sum += lat[i];
  printf("{\"requests\":{\"average\":%.0f,\"total\":%zu},\"latency\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f,\"mean\":%.3f},"
         "\"non2xx\":%lld,\"errors\":%lld,\"timeouts\":0,\"unfinished\":%lld,\"realtime\":%s}\n",
         nlat / duration, nlat, Q(0.5), Q(0.9), Q(0.99), Q(0.999), nlat ? lat[nlat - 1] : 0, nlat ? sum / nlat : 0, non2xx, errors, sent - done + (k - sent),
         realtime ? "true" : "false");
  return errors ? 1 : 0;
}
