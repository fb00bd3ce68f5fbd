/* rand.h - a small seeded PRNG (xoshiro256**, seeded by splitmix64) so that
 * the same seed gives the same run, bit for bit. Not for cryptography. */
#ifndef SF_RAND_H
#define SF_RAND_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} sf_rand;

static inline uint64_t sf_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void sf_rand_seed(sf_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sf_splitmix64(&seed);
}

static inline uint64_t sf_rand_next(sf_rand *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* A uniform double in [0, 1). */
static inline double sf_rand_unit(sf_rand *r)
{
    return (double)(sf_rand_next(r) >> 11) * 0x1.0p-53;
}

#endif
