/* bytes.h - network byte order (big-endian) loads and stores, for the code
 * that reads and writes headers: wire.c (IPv4, TCP, ICMP) and the raw
 * driver (Ethernet, ARP). Internal: not an installed header. */
#ifndef SF_BYTES_H
#define SF_BYTES_H

#include <stdint.h>

static inline uint16_t sf_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void sf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void sf_put32(uint8_t *p, uint32_t v)
{
    sf_put16(p, (uint16_t)(v >> 16));
    sf_put16(p + 2, (uint16_t)v);
}

#endif
