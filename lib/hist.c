/* hist.c — log-linear latency histogram (see hist.h). */
#include "lib/hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = INT64_MAX;
}

static int bucket_of(int64_t v)
{
    if (v < HIST_SUB)
        return (int)(v < 0 ? 0 : v);
    int p = 63 - __builtin_clzll((uint64_t)v);          /* v in [2^p, 2^(p+1)) */
    int shift = p - 5;                                   /* 2^5 == HIST_SUB */
    int b = (shift + 1) * HIST_SUB + (int)((v >> shift) - HIST_SUB);
    return b < HIST_POW * HIST_SUB ? b : HIST_POW * HIST_SUB - 1;
}

int64_t hist_bucket_top(int b)
{
    if (b < HIST_SUB)
        return b;
    int shift = b / HIST_SUB - 1;
    int64_t base = (int64_t)(HIST_SUB + b % HIST_SUB) << shift;
    return base + ((int64_t)1 << shift) - 1;
}

void hist_add(hist *h, int64_t v)
{
    h->bucket[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(hist *into, const hist *from)
{
    if (!from->count)
        return;
    for (int i = 0; i < HIST_POW * HIST_SUB; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

int64_t hist_quantile(const hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_POW * HIST_SUB; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            int64_t top = hist_bucket_top(i);
            return top < h->max ? (top > h->min ? top : h->min) : h->max;
        }
    }
    return h->max;
}
