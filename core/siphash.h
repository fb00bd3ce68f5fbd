/* siphash.h - SipHash-2-4 (Aumasson and Bernstein, 2012), the keyed PRF of
 * the RFC 6528 ISN function (RFC 9293 §3.4.1, MUST-9, SHLD-1). */
#ifndef SF_SIPHASH_H
#define SF_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit SipHash-2-4 of len bytes under a 16-byte key. */
uint64_t sf_siphash(const uint8_t key[16], const uint8_t *data, size_t len);

#endif
