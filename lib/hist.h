/*
 * hist.h — a fixed-size latency histogram (log-linear buckets, like
 * HdrHistogram at ~3% precision), so that a long soak keeps flat memory.
 */
#ifndef PGRACE_HIST_H
#define PGRACE_HIST_H

#include <stdint.h>

#define HIST_SUB 32                 /* linear sub-buckets per power of two */
#define HIST_POW 40                 /* up to 2^40 ns, about 18 minutes */

typedef struct hist {
    uint64_t count;
    int64_t min, max;
    double sum;
    uint32_t bucket[HIST_POW * HIST_SUB];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, int64_t ns);
void hist_merge(hist *into, const hist *from);
/* The value at quantile q in [0, 1] (an upper bound within the bucket's
 * precision; exact for min and max). 0 when empty. */
int64_t hist_quantile(const hist *h, double q);
/* The largest value bucket b (0 <= b < HIST_POW * HIST_SUB) holds: what
 * hist_quantile answers for a rank in b. Exported for readers that walk
 * h->bucket themselves (the HTML report's histograms), so that the bucket
 * layout is written down once, here. */
int64_t hist_bucket_top(int b);

#endif
