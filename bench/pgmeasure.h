/* bench/pgmeasure: what bench/pginsert measures besides its statements: the clock, its
 * own CPU, a PostgreSQL cluster's CPU from /proc, and percentiles of latencies. */
#ifndef WS_BENCH_PGMEASURE_H
#define WS_BENCH_PGMEASURE_H

#include <stddef.h>
#include <stdint.h>

/* The monotonic clock in µs. */
uint64_t pgm_now_us(void);
/* This process's CPU (user + system) in ms. */
double pgm_self_cpu_ms(void);
/* CPU of a PostgreSQL cluster in ms: the postmaster with its reaped children, and the
 * processes alive under it (backends, walwriter, checkpointer). -1 if unknown. */
double pgm_cluster_cpu_ms(long postmaster);
/* qsort's order of uint32_t. */
int pgm_cmp_u32(const void *a, const void *b);
/* The q-th percentile (nearest rank) of n sorted latencies in µs, in ms; 0 if n is 0. */
double pgm_pct_ms(const uint32_t *v, size_t n, double q);

#endif
